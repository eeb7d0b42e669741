"""The real Claude Code CLI, run with the environment ``workers.claude_code_env`` builds.

The CLI is the ``claude`` binary that the claude-agent-sdk wheel bundles (or one on ``PATH``). It
runs in Bedrock mode, offline, in a child process whose base environment is a badly configured
worker's: region us-east-1, every ``AWS_ENDPOINT_URL*`` at a **decoy** emulator, a stray bearer
token and a profile whose keys are the wrong identity. The parent's emulator allows only
eu-west-1. ``claude_code_env`` runs in a job bound in this process, as the worker binds one: an
envelope for eu-west-1, the parent's model and the emulator, with the ambient identity's keys in
the process environment. The test requires every call the CLI makes to be signed for eu-west-1
with the envelope's key, the conversation to run on the parent's model ID, and the decoy to see
nothing.

Besides the conversation (InvokeModelWithResponseStream) and a ListInferenceProfiles at start-up,
the CLI may probe model availability with ``InvokeModel`` (``max_tokens: 1``): the emulator
answers 400 ValidationException for the IDs it does not serve. Those probes must still be signed
for eu-west-1 with the envelope's key and stay in the parent's geography, so they are checked
like every other call; only their status may differ.

The same CLI started from a user task in a real, trapped worker is in ``test_frameworks``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from envelope import BedrockEnvelope, resolve
from tests.compat.harness import (
    AMBIENT_KEY,
    AMBIENT_SECRET,
    DECOY_REGION,
    PARENT_REGION,
    PROFILE_ID,
    QUIET,
    TRAP_KEY,
    TRAP_SECRET,
    ClaudeRun,
    assert_claude_code_calls,
    claude_cli,
    describe_calls,
    run_claude,
)
from tests.conftest import EmulatorProc, clean_env
from tests.factories import make_envelope
from workers import WorkerSettings, claude_code_env
from workers.context import Job, bind, unbind
from workers.runtime import WorkerRuntime

pytestmark = [pytest.mark.compat, pytest.mark.integration]

__all__ = ["claude_cli"]

MODEL_ID = PROFILE_ID
#: The small/fast model for the parent's geography, resolved as Baton resolves any alias.
SMALL_MODEL_ID = resolve("haiku", region=PARENT_REGION, cross_region=True)
#: What claude_code_env must never pass on from its base.
FORBIDDEN_PREFIXES = ("AWS_ENDPOINT_URL",)
FORBIDDEN = frozenset({"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_BEARER_TOKEN_BEDROCK"})


@dataclass
class Trap:
    """The worker machine: its home, its working directory and its misleading defaults."""

    home: Path
    cwd: Path
    base: dict[str, str]


@pytest.fixture()
def emulators(start_emulator: Any) -> tuple[EmulatorProc, EmulatorProc]:
    """The parent's emulator (eu-west-1 only) and the decoy the worker's defaults point at."""
    return start_emulator(PARENT_REGION), start_emulator(DECOY_REGION)


@pytest.fixture()
def trap(tmp_path: Path, emulators: tuple[EmulatorProc, EmulatorProc]) -> Trap:
    """A fresh HOME with a trap AWS profile, and the hostile base environment of the brief."""
    _, decoy = emulators
    home, cwd = tmp_path / "home", tmp_path / "work"
    (home / ".aws").mkdir(parents=True)
    cwd.mkdir()
    (home / ".aws" / "config").write_text(
        f"[default]\nregion = {DECOY_REGION}\n[profile decoy]\nregion = {DECOY_REGION}\n"
    )
    (home / ".aws" / "credentials").write_text(
        "".join(
            f"[{name}]\naws_access_key_id = {TRAP_KEY}\naws_secret_access_key = {TRAP_SECRET}\n"
            for name in ("default", "decoy")
        )
    )
    base = clean_env(
        HOME=str(home),
        AWS_REGION=DECOY_REGION,
        AWS_DEFAULT_REGION=DECOY_REGION,
        AWS_ENDPOINT_URL=decoy.url,
        AWS_ENDPOINT_URL_BEDROCK=decoy.url,
        AWS_ENDPOINT_URL_BEDROCK_RUNTIME=decoy.url,
        AWS_BEARER_TOKEN_BEDROCK="stray",
        AWS_PROFILE="decoy",
        **QUIET,
    )
    base.pop("CLAUDECODE", None)  # set when the suite itself runs under Claude Code
    return Trap(home=home, cwd=cwd, base=base)


@pytest.fixture()
def job(
    monkeypatch: pytest.MonkeyPatch, emulators: tuple[EmulatorProc, EmulatorProc]
) -> Iterator[BedrockEnvelope]:
    """A job bound in this process as a worker binds one, for ``claude_code_env``: eu-west-1,
    the parent's model, the parent's emulator, and the ambient identity, whose keys are in this
    process's environment."""
    real, _ = emulators
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AMBIENT_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AMBIENT_SECRET)
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    runtime = WorkerRuntime(WorkerSettings(envelope_key=secrets.token_urlsafe(32)))  # type: ignore[arg-type]
    envelope = make_envelope(region=PARENT_REGION, model_id=MODEL_ID, endpoint_url=real.url)
    token = bind(Job(envelope=envelope, task_id="claude-code-1", runtime=runtime))
    try:
        yield envelope
    finally:
        unbind(token)


def assert_only_the_envelope_was_used(
    run: ClaudeRun, real: EmulatorProc, decoy: EmulatorProc
) -> None:
    calls, strays = real.calls(), decoy.calls()
    journal = f"parent's emulator:\n{describe_calls(calls)}\ndecoy:\n{describe_calls(strays)}"
    assert not run.timed_out, f"claude -p did not finish\n{run.stderr[-2000:]}"
    assert run.returncode == 0, f"{run.stderr[-2000:]}\n{run.stdout[-2000:]}\n{journal}"
    answer = run.answer()
    assert answer is not None, run.stdout[-2000:]
    assert answer["is_error"] is False, answer
    # The emulator's answer names where it was served: "[region] model: ...".
    assert answer["result"].startswith(f"[{PARENT_REGION}] {MODEL_ID}:"), answer["result"]
    assert MODEL_ID in answer["modelUsage"], answer["modelUsage"]

    assert strays == [], journal
    assert_claude_code_calls(calls, model=MODEL_ID, access_key=AMBIENT_KEY, journal=journal)


def test_the_real_claude_code_cli_calls_bedrock_only_as_the_parent_envelope_says(
    claude_cli: str, emulators: tuple[EmulatorProc, EmulatorProc], trap: Trap, job: BedrockEnvelope
) -> None:
    real, decoy = emulators
    env = claude_code_env(trap.base)
    leaked = sorted(k for k in env if k in FORBIDDEN or k.startswith(FORBIDDEN_PREFIXES))
    assert leaked == [], leaked
    assert (env["AWS_REGION"], env["AWS_DEFAULT_REGION"]) == (PARENT_REGION, PARENT_REGION)
    assert env["ANTHROPIC_BEDROCK_BASE_URL"] == real.url
    assert (env["ANTHROPIC_MODEL"], env["ANTHROPIC_SMALL_FAST_MODEL"]) == (MODEL_ID, SMALL_MODEL_ID)
    assert env["AWS_ACCESS_KEY_ID"] == AMBIENT_KEY

    run = run_claude(claude_cli, env=env, cwd=trap.cwd)

    assert_only_the_envelope_was_used(run, real, decoy)


def test_the_hostile_environment_alone_sends_the_cli_astray(
    claude_cli: str, emulators: tuple[EmulatorProc, EmulatorProc], trap: Trap
) -> None:
    """The control: the same CLI given the worker's defaults never reaches the parent's emulator.

    Here the model and base URL are the parent's, but the region, profile and bearer token are
    the worker's; the stray bearer token wins over the keys, so every call is refused.
    """
    real, _ = emulators
    env = {
        **trap.base,
        "CLAUDE_CODE_USE_BEDROCK": "1",
        "ANTHROPIC_MODEL": MODEL_ID,
        "ANTHROPIC_BEDROCK_BASE_URL": real.url,
        "AWS_ACCESS_KEY_ID": AMBIENT_KEY,
        "AWS_SECRET_ACCESS_KEY": AMBIENT_SECRET,
    }
    env.pop("AWS_PROFILE")  # with it the CLI does not even start a request: no credentials

    run = run_claude(claude_cli, env=env, cwd=trap.cwd)

    calls = real.calls()
    assert not run.timed_out, f"claude -p did not finish\n{run.stderr[-2000:]}"
    assert run.returncode != 0 or json.loads(run.stdout)["is_error"], run.stdout
    assert calls, "the CLI made no call at all"
    assert all(c["auth"] == "bearer" and c["status"] == 403 for c in calls), describe_calls(calls)
    assert not any(c["status"] == 200 for c in calls), describe_calls(calls)


@pytest.fixture()
def settings_trap(trap: Trap, emulators: tuple[EmulatorProc, EmulatorProc]) -> Iterator[Trap]:
    """Claude Code settings files that redirect region and endpoint, in HOME and in the cwd."""
    _, decoy = emulators
    redirect = json.dumps(
        {"env": {"AWS_REGION": DECOY_REGION, "ANTHROPIC_BEDROCK_BASE_URL": decoy.url}}
    )
    for root in (trap.home, trap.cwd):
        (root / ".claude").mkdir()
        (root / ".claude" / "settings.json").write_text(redirect)
    yield trap


def test_claude_code_settings_files_cannot_move_the_cli(
    claude_cli: str,
    emulators: tuple[EmulatorProc, EmulatorProc],
    settings_trap: Trap,
    job: BedrockEnvelope,
) -> None:
    """Claude Code applies the ``env`` of its settings files over the process environment.

    Without ``CLAUDE_CODE_PROVIDER_MANAGED_BY_HOST=1`` these files send every call, signed for
    us-east-1, to the decoy, whatever the environment says.
    """
    real, decoy = emulators
    env = claude_code_env(settings_trap.base)

    run = run_claude(claude_cli, env=env, cwd=settings_trap.cwd)

    assert_only_the_envelope_was_used(run, real, decoy)
