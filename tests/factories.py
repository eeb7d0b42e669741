"""Small builders shared by unit tests: envelopes and keyrings with sensible defaults."""

from __future__ import annotations

import time
from typing import Any

from envelope import BedrockEnvelope, Keyring, Lineage

KEY = "unit-test-envelope-key-0123456789"


def keyring(kid: str = "default", key: str = KEY) -> Keyring:
    return Keyring(keys={kid: key.encode()}, active=kid)


def make_envelope(**overrides: Any) -> BedrockEnvelope:
    """The one envelope factory of the tests: eu-west-1's Sonnet 4 profile, root ``root-1``,
    issued now for ten minutes under key id ``default``; ``overrides`` replace any field (a
    module that needs a fixed clock binds ``iat`` and ``exp`` with ``functools.partial``)."""
    now = int(time.time())
    fields: dict[str, Any] = {
        "region": "eu-west-1",
        "cross_region": True,
        "model_id": "eu.anthropic.claude-sonnet-4-20250514-v1:0",
        "endpoint_url": None,
        "lineage": Lineage(root_id="root-1"),
        "iat": now,
        "exp": now + 600,
        "kid": "default",
    }
    fields.update(overrides)
    return BedrockEnvelope(**fields)


def bound_request(
    token: str,
    *,
    job_id: str = "job-1",
    task: str = "baton.subagent",
    args: tuple[Any, ...] = (),
    kwargs: dict[str, Any] | None = None,
    embed: dict[str, Any] | None = None,
    ring: Keyring | None = None,
    arrived_on: str | None = "",
) -> Any:
    """A task request as a worker sees it: the envelope header and its binding to the message,
    computed as a Baton publisher computes it, and the queue its consumer took it from
    (``arrived_on``; by default its envelope's region's, where a Baton publish sends it)."""
    from types import SimpleNamespace

    from envelope import BINDING_KEY, HEADER_KEY, bind_message, peek, queue_for
    from workers.arrival import ARRIVED_ON

    if arrived_on == "":
        arrived_on = queue_for(str(peek(token).get("region")))

    kwargs = {"prompt": "hello"} if kwargs is None else kwargs
    embed = embed or {}
    headers: dict[str, Any] = {"id": job_id, "task": task}
    bind_message(ring or keyring(), headers, (args, kwargs, embed), token)
    return SimpleNamespace(
        id=job_id,
        task=task,
        args=list(args),
        kwargs=kwargs,
        headers={HEADER_KEY: token, BINDING_KEY: headers.get(BINDING_KEY)},
        **{name: embed.get(name) for name in ("callbacks", "errbacks", "chain", "chord")},
        **{HEADER_KEY: token, BINDING_KEY: headers.get(BINDING_KEY), ARRIVED_ON: arrived_on},
    )
