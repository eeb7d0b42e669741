"""The compat tests' fleet: a trapped worker, the parent's emulator, a decoy, and parents.

One of each per test module, because a worker that imports four agent frameworks takes seconds
to warm up. The worker's environment is that of a badly configured machine: every default it
has (region, endpoints, bearer token, profile, web identity) points at the **decoy**, a second
emulator that allows only us-east-1. The parent captures eu-west-1 and the **real** emulator,
which allows only eu-west-1. Anything a framework takes from the worker's defaults therefore
lands on the decoy, whose journal each test requires to be empty.

Nothing here is mocked: the emulators, the worker and Redis are real processes, stopped by pid.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import signal
import subprocess
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from emulator import (
    OTHER_ACCESS_KEY_ID,
    OTHER_SECRET_ACCESS_KEY,
    READY_PREFIX,
    TEST_ACCESS_KEY_ID,
    TEST_SECRET_ACCESS_KEY,
)
from tests.conftest import EmulatorProc, RedisServer, clean_env
from tests.support.processes import Proc, python_argv

PARENT_REGION = "eu-west-1"
DECOY_REGION = "us-east-1"
ACCOUNT = "111122223333"
PROFILE_ID = "eu.anthropic.claude-sonnet-4-20250514-v1:0"
#: An application inference profile the real emulator declares, over the same model.
APP_PROFILE = "baton-compat"
APP_PROFILE_ARN = (
    f"arn:aws:bedrock:{PARENT_REGION}:{ACCOUNT}:application-inference-profile/{APP_PROFILE}"
)
#: The role the worker assumes in assume_role mode, through the real emulator's STS.
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/baton-compat"
#: The worker's ambient identity: the emulator's first documented test key pair.
AMBIENT_KEY = TEST_ACCESS_KEY_ID
AMBIENT_SECRET = TEST_SECRET_ACCESS_KEY
#: The emulator's second key pair: what the worker's trap profile holds.
TRAP_KEY = OTHER_ACCESS_KEY_ID
TRAP_SECRET = OTHER_SECRET_ACCESS_KEY
#: The task module the worker loads.
TASKS = "tests.compat.framework_tasks"
#: Redis databases of the module's broker and backend, apart from the ones other tests flush.
BROKER_DB, BACKEND_DB = 8, 9
#: Bound on any one job: a framework's first call also imports it.
JOB_TIMEOUT = 60.0


#: The one-line prompt every framework, and the Claude Code CLI, is asked.
PROMPT = "Say hi"
#: Bound on one Claude Code CLI run; a run against the emulator takes about 3 s.
CLI_TIMEOUT = 60.0
#: Bound on a job that runs the CLI: the CLI's own bound, plus the worker's share.
CLI_JOB_TIMEOUT = CLI_TIMEOUT + 30.0
#: Added to the CLI's environment after ``claude_code_env``: keep it off the network and quiet,
#: and let a refused call fail in seconds (it retries 10 times by default, for about a minute).
QUIET = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "CLAUDE_CODE_MAX_RETRIES": "2",
}


#: The frameworks under test, by import name.
FRAMEWORK_MODULES = ("anthropic", "langchain_aws", "litellm", "pydantic_ai", "strands")


def require_frameworks() -> None:
    """Skip the calling test module when a framework is missing; in CI, fail instead."""
    missing = [name for name in FRAMEWORK_MODULES if importlib.util.find_spec(name) is None]
    if not missing:
        return
    message = f"the compat tests need {', '.join(missing)}: pip install -e '.[compat]'"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message, allow_module_level=True)


def find_claude_cli() -> str | None:
    """Return the ``claude`` binary claude-agent-sdk bundles, else one on ``PATH``, else None."""
    spec = importlib.util.find_spec("claude_agent_sdk")
    for location in (spec.submodule_search_locations or []) if spec else []:
        bundled = Path(location) / "_bundled" / "claude"
        if bundled.is_file() and os.access(bundled, os.X_OK):
            return str(bundled)
    return shutil.which("claude")


@pytest.fixture(scope="module")
def claude_cli() -> str:
    """The Claude Code CLI; skip without it, or fail in CI."""
    cli = find_claude_cli()
    if cli is None:
        reason = (
            "the Claude Code CLI was not found: neither claude_agent_sdk/_bundled/claude "
            "(pip install claude-agent-sdk) nor `claude` on PATH "
            "(npm install -g @anthropic-ai/claude-code)"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return cli


@dataclass
class ClaudeRun:
    """One non-interactive turn of the CLI: its exit status, its output, and whether it hung."""

    returncode: int
    stdout: str
    stderr: str
    timed_out: bool

    def answer(self) -> Any:
        """The CLI's ``--output-format json`` answer, or None when stdout is not JSON."""
        try:
            return json.loads(self.stdout)
        except ValueError:
            return None


def run_claude(cli: str, *, env: Mapping[str, str], cwd: Path | str) -> ClaudeRun:
    """Run ``claude -p PROMPT`` in ``cwd``, killing its process group if it outlives the bound."""
    argv = [cli, "-p", PROMPT, "--output-format", "json", "--no-session-persistence"]
    with subprocess.Popen(
        argv,
        env=dict(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as proc:
        try:
            out, err = proc.communicate(timeout=CLI_TIMEOUT)
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            timed_out = True
    return ClaudeRun(proc.returncode, out, err, timed_out)


def describe_calls(calls: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"  {c['operation']} {c['region']} {c['model_id']} {c['access_key_id']} {c['auth']} "
        f"{c['status']} {c['error_code']}"
        for c in calls
    )


#: What the CLI may call: its start-up listing, the conversation, and availability probes.
CLAUDE_CODE_OPERATIONS = frozenset(
    {"ListInferenceProfiles", "InvokeModelWithResponseStream", "InvokeModel"}
)


def assert_claude_code_calls(
    calls: list[dict[str, Any]],
    *,
    model: str,
    access_key: str,
    journal: str,
    region: str = PARENT_REGION,
) -> None:
    """Every call the CLI made is signed with SigV4 for the parent's ``region`` by
    ``access_key``, stays in ``model``'s geography, is never refused for its identity, and the
    conversation ran on ``model``.

    Only a start-up ``InvokeModel`` probe of a model the emulator does not serve may fail, and
    only with ValidationException.
    """
    assert calls, journal
    geography = model.split(".", 1)[0] + "."
    for call in calls:
        assert call["operation"] in CLAUDE_CODE_OPERATIONS, journal
        assert call["region"] == region, journal
        assert call["access_key_id"] == access_key, journal
        assert call["auth"] == "sigv4", journal
        assert call["model_id"] is None or call["model_id"].startswith(geography), journal
        assert call["status"] != 403, journal
        if call["model_id"] == model:
            assert call["status"] == 200, journal
        elif call["status"] != 200:
            assert (call["operation"], call["error_code"]) == (
                "InvokeModel",
                "ValidationException",
            ), journal
    conversation = [c for c in calls if c["operation"] == "InvokeModelWithResponseStream"]
    assert conversation, journal
    assert {(c["model_id"], c["status"]) for c in conversation} == {(model, 200)}, journal


def clear_journal(emulator: EmulatorProc) -> None:
    """Forget every call ``emulator`` journaled, so a test sees only its own."""
    request = urllib.request.Request(f"{emulator.url}/_baton/calls", method="DELETE")
    with urllib.request.urlopen(request, timeout=10) as response:
        json.load(response)


@dataclass
class Emulators:
    """The parent's emulator and the decoy that the worker's defaults point at."""

    real: EmulatorProc
    decoy: EmulatorProc

    def clear(self) -> None:
        clear_journal(self.real)
        clear_journal(self.decoy)


def _start_emulator(*args: str) -> EmulatorProc:
    proc = Proc(python_argv("-m", "emulator", "--port", "0", *args), env=clean_env(), name="emu")
    try:
        url = proc.wait_for(READY_PREFIX).split()[-1]
    except (RuntimeError, TimeoutError):
        proc.stop()
        raise
    return EmulatorProc(url=url, proc=proc)


@pytest.fixture(scope="module")
def emulators() -> Iterator[Emulators]:
    real = _start_emulator(
        "--allow-region", PARENT_REGION, "--app-profile", f"{APP_PROFILE}={PROFILE_ID}"
    )
    try:
        decoy = _start_emulator("--allow-region", DECOY_REGION)
    except BaseException:
        real.proc.stop()
        raise
    try:
        yield Emulators(real=real, decoy=decoy)
    finally:
        decoy.proc.stop()
        real.proc.stop()


@dataclass
class Fleet:
    """Where the module's worker takes jobs from and the key its envelopes are signed with."""

    broker_url: str
    backend_url: str
    envelope_key: str


@pytest.fixture(scope="module")
def fleet(redis_server: RedisServer) -> Iterator[Fleet]:
    import redis

    yield Fleet(
        broker_url=redis_server.url(BROKER_DB),
        backend_url=redis_server.url(BACKEND_DB),
        envelope_key=secrets.token_urlsafe(32),
    )
    for db in (BROKER_DB, BACKEND_DB):
        client = redis.Redis.from_url(redis_server.url(db))
        client.flushdb()
        client.close()


def trapped_environment(decoy_url: str, home: Path) -> dict[str, str]:
    """The worker machine's own AWS settings: each one a way to call the decoy instead.

    Botocore's (region, endpoints, bearer token, config-file profile and endpoint, web
    identity), LiteLLM's (region, endpoint, web identity token, session name, STS endpoint; not
    ``AWS_ROLE_NAME``/``AWS_PROFILE_NAME``, which its adapter refuses outright), the anthropic
    SDK's (``ANTHROPIC_BEDROCK_BASE_URL``) and Claude Code's: ``home`` becomes the worker's HOME,
    whose ``.claude/settings.json`` sends the CLI to the decoy unless the host owns the provider.
    """
    config, credentials, token = home / "config", home / "credentials", home / "web-identity"
    (home / ".claude").mkdir()
    (home / ".claude" / "settings.json").write_text(
        json.dumps({"env": {"AWS_REGION": DECOY_REGION, "ANTHROPIC_BEDROCK_BASE_URL": decoy_url}})
    )
    config.write_text(
        f"[default]\nregion = {DECOY_REGION}\nendpoint_url = {decoy_url}\n"
        f"[profile baton-trap]\nregion = {DECOY_REGION}\nendpoint_url = {decoy_url}\n"
    )
    credentials.write_text(
        f"[baton-trap]\naws_access_key_id = {TRAP_KEY}\naws_secret_access_key = {TRAP_SECRET}\n"
    )
    token.write_text("eyJhbGciOiJub25lIn0.eyJzdWIiOiJiYXRvbi10cmFwIn0.")
    return {
        "HOME": str(home),
        "AWS_REGION": DECOY_REGION,
        "AWS_DEFAULT_REGION": DECOY_REGION,
        "AWS_ENDPOINT_URL": decoy_url,
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": decoy_url,
        "AWS_ENDPOINT_URL_BEDROCK": decoy_url,
        "AWS_ENDPOINT_URL_STS": decoy_url,
        "AWS_BEARER_TOKEN_BEDROCK": "ABSKQmVkcm9ja0FQSUtleS1zdHJheS10b2tlbg==",
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
        "AWS_PROFILE": "baton-trap",
        "AWS_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/baton-trap",
        "AWS_WEB_IDENTITY_TOKEN_FILE": str(token),
        "AWS_REGION_NAME": DECOY_REGION,
        "AWS_BEDROCK_RUNTIME_ENDPOINT": decoy_url,
        "AWS_WEB_IDENTITY_TOKEN": token.read_text(),
        "AWS_SESSION_NAME": "baton-trap",
        "AWS_STS_ENDPOINT": decoy_url,
        "ANTHROPIC_BEDROCK_BASE_URL": decoy_url,
        "AWS_ACCESS_KEY_ID": AMBIENT_KEY,
        "AWS_SECRET_ACCESS_KEY": AMBIENT_SECRET,
    }


@pytest.fixture(scope="module")
def trapped_worker(
    fleet: Fleet, emulators: Emulators, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proc]:
    """A ``baton worker --include`` the framework tasks, for eu-west-1."""
    env = clean_env(
        BATON_BROKER_URL=fleet.broker_url,
        BATON_RESULT_BACKEND=fleet.backend_url,
        BATON_ENVELOPE_KEY=fleet.envelope_key,
        # The parent's emulator is the one endpoint the fleet trusts; the decoy is not listed.
        BATON_ALLOWED_ENDPOINTS=emulators.real.url,
        # LiteLLM fetches its model price list from GitHub at import unless told not to.
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        **trapped_environment(emulators.decoy.url, tmp_path_factory.mktemp("worker-home")),
    )
    env.pop("CLAUDECODE", None)  # set when the suite itself runs under Claude Code
    argv = python_argv(
        "-m", "baton", "worker", "--region", PARENT_REGION, "--pool", "threads",
        "--concurrency", "2", "--include", TASKS,
    )  # fmt: skip
    proc = Proc(argv, env=env, name="compat-worker")
    try:
        proc.wait_for(" ready.")
        yield proc
    finally:
        proc.kill()


@pytest.fixture()
def make_parent(fleet: Fleet, emulators: Emulators) -> Iterator[Callable[..., Any]]:
    """Factory: an Orchestrator in eu-west-1 on the real emulator, for a model and identity."""
    from orchestrator import Orchestrator, ProducerSettings, capture, close_producer, producer_app

    apps: list[Any] = []

    def make(*, model: str, identity: str) -> Any:
        settings = ProducerSettings(
            broker_url=fleet.broker_url,
            result_backend=fleet.backend_url,
            envelope_key=fleet.envelope_key,  # type: ignore[arg-type]
            identity=identity,  # type: ignore[arg-type]
            role_arn=ROLE_ARN if identity == "assume_role" else None,
        )
        app = producer_app(settings)
        apps.append(app)
        config = capture(
            environ={"AWS_REGION": PARENT_REGION, "AWS_BEDROCK_ENDPOINT": emulators.real.url},
            model=model,
        )
        return Orchestrator(config=config, settings=settings, app=app)

    yield make
    for app in apps:
        close_producer(app)


def run_task(orch: Any, name: str, *, timeout: float = JOB_TIMEOUT) -> Any:
    """Publish task ``name`` from ``orch`` the ordinary way and return its result."""
    with orch.propagating():
        result = orch.app.signature(name).apply_async()
    return result.get(timeout=timeout)
