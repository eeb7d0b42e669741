"""The environment for a Claude Code CLI (or claude-agent-sdk) subprocess run by a job.

Usage::

    from workers import app, claude_code_env

    @app.task
    def review(path):
        return subprocess.run(["claude", "-p", f"review {path}"], env=claude_code_env(), ...)

The CLI reads its Bedrock configuration from its environment, and a subprocess inherits the
worker's whole one: ``AWS_REGION=us-east-1``, an ``AWS_ENDPOINT_URL``, an ``AWS_PROFILE`` or a
stray ``AWS_BEARER_TOKEN_BEDROCK`` would all reach it. So the base environment loses every
``AWS_*``, ``ANTHROPIC_*``, ``CLAUDE_CODE_USE_*``/``_SKIP_*`` and ``BATON_*`` variable (the last
hold the fleet's keys), and gets back exactly the envelope's settings. The CLI's model tiers
(``sonnet``, ``haiku``, ``opus``, and the small/fast model its helpers use, with its own region
variable) are pinned to IDs resolved for the envelope's geography; one that has no profile there
falls back to the job's own model, never to another geography. A tier left unpinned would make
the CLI probe model IDs of its own choosing at start-up.

Measured with the real CLI (2.1.x, bundled by claude-agent-sdk) on the emulator: the CLI applies
the ``env`` block of a ``.claude/settings.json`` in its HOME or working directory *over* its
process environment, so a repository the agent works in could send it to another region or
endpoint. ``CLAUDE_CODE_PROVIDER_MANAGED_BY_HOST=1`` stops that (and makes explicit keys win
over a profile); it is not documented, so also pass ``--setting-sources ""`` where you can.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from envelope import BedrockEnvelope, ResolutionError, resolve
from workers.context import require_job

#: Variable prefixes dropped from the base environment: every one could move the CLI elsewhere
#: or, for ``BATON_``, hand it the fleet's secrets. Compared without regard to case: settings are
#: read that way (pydantic-settings' default), so a worker takes ``baton_envelope_key`` as its key.
_DROPPED_PREFIXES = ("AWS_", "ANTHROPIC_", "BATON_", "CLAUDE_CODE_USE_", "CLAUDE_CODE_SKIP_")

#: Kept although it starts with ``AWS_``: which CAs to trust, not where to call.
_KEPT = frozenset({"AWS_CA_BUNDLE"})

#: The CLI's alias variables and the Baton alias each resolves from.
_ALIASES = {
    "ANTHROPIC_DEFAULT_SONNET_MODEL": "sonnet",
    "ANTHROPIC_DEFAULT_HAIKU_MODEL": "haiku",
    "ANTHROPIC_DEFAULT_OPUS_MODEL": "opus",
    "ANTHROPIC_SMALL_FAST_MODEL": "haiku",
}


def _pinned_model(envelope: BedrockEnvelope, alias: str) -> str:
    try:
        return resolve(alias, region=envelope.region, cross_region=envelope.cross_region)
    except ResolutionError:
        return envelope.model_id


def claude_code_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return ``base`` (default: this process's environment) with the running job's Bedrock
    configuration and identity, and none of the worker's own.

    The credentials are the envelope identity's, as ``AWS_ACCESS_KEY_ID``,
    ``AWS_SECRET_ACCESS_KEY`` and ``AWS_SESSION_TOKEN``: the subprocess can read them, as any
    code the job runs can. Assumed-role credentials are frozen as they are now, so build the
    environment just before starting the process.
    """
    job = require_job()
    envelope = job.envelope
    source = os.environ if base is None else base
    env = {
        name: value
        for name, value in source.items()
        if name in _KEPT or not name.upper().startswith(_DROPPED_PREFIXES)
    }
    credentials = job.runtime.clients.frozen_credentials(envelope)
    env |= {
        "CLAUDE_CODE_USE_BEDROCK": "1",
        "AWS_REGION": envelope.region,
        "AWS_DEFAULT_REGION": envelope.region,
        "AWS_BEDROCK_REGION": envelope.region,
        "AWS_BEDROCK_CROSS_REGION_INFERENCE": "true" if envelope.cross_region else "false",
        "ANTHROPIC_MODEL": envelope.model_id,
        "ANTHROPIC_SMALL_FAST_MODEL_AWS_REGION": envelope.region,
        "CLAUDE_CODE_SUBAGENT_MODEL": envelope.model_id,
        "CLAUDE_CODE_PROVIDER_MANAGED_BY_HOST": "1",
        "AWS_ACCESS_KEY_ID": credentials.access_key,
        "AWS_SECRET_ACCESS_KEY": credentials.secret_key,
    }
    env |= {name: _pinned_model(envelope, alias) for name, alias in _ALIASES.items()}
    if credentials.token:
        env["AWS_SESSION_TOKEN"] = credentials.token
    if envelope.endpoint_url is not None:
        env["ANTHROPIC_BEDROCK_BASE_URL"] = envelope.endpoint_url
        env["AWS_BEDROCK_ENDPOINT"] = envelope.endpoint_url
    return env
