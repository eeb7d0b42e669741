"""Where the envelope rides inside a Celery message besides its own header.

A message's body embeds signatures that other processes publish later: ``callbacks`` (link),
``errbacks`` (link_error, including those the worker's main process publishes after a hard time
limit or a lost child), the rest of a ``chain``, and a ``chord`` body. None of them inherit the
message's headers. Stamping the token into each one's ``options.headers`` at publish time means
whoever publishes them later, with or without a current task, sends the same configuration.

Plain dicts only: this follows Celery's protocol-2 body ``(args, kwargs, embed)`` without importing
Celery.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from envelope import HEADER_KEY

#: The keys of a protocol-2 ``embed`` that hold signatures published after this message.
EMBEDDED_SIGNATURE_KEYS = ("callbacks", "errbacks", "chain")


def stamp_signature(signature: Mapping[str, Any], token: str) -> dict[str, Any]:
    """Return a copy of ``signature`` whose options carry ``token``, unless it already has one.

    Nested signatures (a chain's or group's ``tasks``, a chord's ``header`` and ``body``) are
    stamped too. The input is never mutated: signature dicts are often shared with the caller.
    """
    stamped = dict(signature)
    options = dict(stamped.get("options") or {})
    headers = dict(options.get("headers") or {})
    if not headers.get(HEADER_KEY):
        headers[HEADER_KEY] = token
    options["headers"] = headers
    stamped["options"] = options
    kwargs = stamped.get("kwargs")
    if isinstance(kwargs, Mapping):
        stamped["kwargs"] = _stamp_nested(kwargs, token)
    return stamped


def _stamp_nested(kwargs: Mapping[str, Any], token: str) -> dict[str, Any]:
    nested = dict(kwargs)
    for key in ("tasks", "header"):
        value = nested.get(key)
        if isinstance(value, list | tuple):
            nested[key] = [_maybe_stamp(item, token) for item in value]
        elif isinstance(value, Mapping):
            nested[key] = _maybe_stamp(value, token)
    if isinstance(nested.get("body"), Mapping):
        nested["body"] = _maybe_stamp(nested["body"], token)
    return nested


def _maybe_stamp(item: Any, token: str) -> Any:
    return stamp_signature(item, token) if isinstance(item, Mapping) and "task" in item else item


def stamp_body(body: Any, token: str) -> None:
    """Stamp ``token`` into the signatures a protocol-2 body embeds; ignore other bodies.

    The ``embed`` mapping is built per message by Celery, so its entries are replaced here; the
    lists and signature dicts it pointed to (often the caller's own) are copied, never mutated.
    """
    if not (isinstance(body, list | tuple) and len(body) == 3 and isinstance(body[2], dict)):
        return
    embed = body[2]
    for key in EMBEDDED_SIGNATURE_KEYS:
        signatures = embed.get(key)
        if signatures:
            embed[key] = [_maybe_stamp(sig, token) for sig in signatures]
    if isinstance(embed.get("chord"), Mapping):
        embed["chord"] = _maybe_stamp(embed["chord"], token)
