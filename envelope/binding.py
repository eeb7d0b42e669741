"""One envelope, one message: a MAC that ties a token to the message it travels on.

The envelope's own signature proves who made it, not which job it is for: anyone who can read the
broker could copy a header onto a message of their own. So every publisher that holds the fleet's
key (a parent, or a worker publishing a child, a retry, a callback) adds a second header,
``baton_binding``: a keyed BLAKE2b, under a subkey of the token's own key, over the token's
signature, the message's task id and task name, and its arguments and the signatures it embeds
(link, link_error, the rest of a chain, a chord body). A worker admits a message only when the
binding matches the message it received.

A chord member's ``group`` and ``group_index`` headers are covered too, when it has a group: the
Redis backend counts a finished member into the chord its ``group`` header names, at the place
its ``group_index`` says, so a finished member replayed with those two edited would count into
another chord (firing its callback early, and its own last member then finding the chord done)
or twice into its own. The chord's size is no header: the publisher stores it in the backend,
and the chord body travels in the bound ``chord`` entry. A message with no group is bound as
before, so its binding is unchanged.

So is a retried message's ``retries`` count, when it is not 0: a user task runs once per message
(``workers.delivery.once``), and a retry is another message only by that count, so a captured
message pushed back with ``retries`` edited would otherwise run once per value. A first delivery
is bound as before.

So is Celery's ``expires`` header, when a message has one: a worker stores the refusal of an
expired message under its id only when its binding holds (``workers.refusals``), so the expiry
must be the key holder's, or a captured message pushed back with an expiry in the past would
fail the queued job it copies. A message with no expiry is bound as before.

What still runs: Celery's redelivery of the same message (same bytes, same binding), and a retry
(re-published by the worker, which binds the new message). What does not: the header on a new job
id, on new arguments, on another task name, or with another callback.

The MAC is over JSON as the broker carries it, without key sorting (JSON keeps insertion order
both ways); values JSON cannot hold are written as ``str()``, which gives the same text for
kombu's datetime, UUID and Decimal before publishing and after decoding.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from json.encoder import (  # type: ignore[attr-defined]  # CPython's own accelerator
    c_make_encoder,
    encode_basestring,
)
from typing import Any

from envelope.codec import key_id
from envelope.errors import EnvelopeBindingInvalid
from envelope.keyring import Keyring

#: The message header that carries the binding.
BINDING_KEY = "baton_binding"

#: BLAKE2b's personalisation (16 bytes): names the binding's version, so a v1 binding means
#: exactly these fields, and sets its MACs apart from any other use of the subkey.
_DOMAIN = b"baton-binding-v1"

#: The protocol-2 ``embed`` entries a binding covers, in order.
EMBEDDED = ("callbacks", "errbacks", "chain", "chord")


#: One encoder for every message, made once: ``json.dumps`` with options builds a new one per
#: call, which costs more than encoding a job's few arguments. CPython's C encoder, where there
#: is one, takes half the time of ``JSONEncoder.encode``; the text is the same either way.
_C_ENCODER = (
    c_make_encoder(None, str, encode_basestring, None, ":", ",", False, False, True)
    if c_make_encoder is not None
    else None
)
_ENCODE = json.JSONEncoder(default=str, separators=(",", ":"), ensure_ascii=False).encode


def binding_group(request: Any) -> list[Any] | None:
    """The chord-membership fields a binding covers for a task request: ``[group,
    group_index]``, or None for a message in no group."""
    group = getattr(request, "group", None)
    return [group, getattr(request, "group_index", None)] if group else None


def binding_retries(request: Any) -> Any:
    """The retry count a binding covers for a task request (0 for a first delivery)."""
    return getattr(request, "retries", None) or 0


def binding_expires(request: Any) -> Any:
    """The expiry a binding covers for a task request: its ``expires`` header as the broker
    carried it (an ISO 8601 text), or None."""
    return getattr(request, "expires", None)


def _content(
    task_id: str,
    task_name: str,
    args: Any,
    kwargs: Any,
    embedded: Any,
    *,
    group: list[Any] | None = None,
    retries: Any = 0,
    expires: Any = None,
) -> bytes:
    fields = [task_id, task_name, args, kwargs, embedded]
    if group is not None:
        fields.append(group)
    if retries:
        fields.append(["retries", retries])
    if expires:
        fields.append(["expires", expires])
    text = "".join(_C_ENCODER(fields, 0)) if _C_ENCODER is not None else _ENCODE(fields)
    return text.encode("utf-8", "surrogatepass")


def _mac(keyring: Keyring, kid: str, token: str, content: bytes) -> str:
    """The binding: keyed BLAKE2b (a MAC in one pass) over the token's signature and the
    message's content, under the key's binding subkey; 128 bits, as hex."""
    signature = token[token.rindex(".") + 1 :].encode("ascii", "replace")
    return hashlib.blake2b(
        b"".join((signature, b"\n", content)),
        key=keyring.binding_key(kid),
        digest_size=16,
        person=_DOMAIN,
    ).hexdigest()


def bind_message(keyring: Keyring, headers: dict[str, Any], body: Any, token: str) -> None:
    """Write the binding of the message ``headers``/``body`` (protocol 2) into ``headers``.

    A token whose key this process does not hold is left as it is: another publisher in this
    process may hold the key, and otherwise the worker refuses the message. So is a first
    delivery that comes with its binding (a dead letter replayed as it was, which must be
    admitted or refused as the original was); a retry, which Celery publishes with its request's
    headers copied, is bound anew to its own arguments.
    """
    if headers.get(BINDING_KEY) and not headers.get("retries"):
        return
    kid = key_id(token)
    if kid not in keyring.keys or not (isinstance(body, list | tuple) and len(body) == 3):
        return
    args, kwargs, embed = body
    embed = embed if isinstance(embed, Mapping) else {}
    content = _content(
        str(headers.get("id")),
        str(headers.get("task")),
        args,
        kwargs,
        [embed.get(name) for name in EMBEDDED],
        group=[headers["group"], headers.get("group_index")] if headers.get("group") else None,
        retries=headers.get("retries") or 0,
        expires=headers.get("expires"),
    )
    headers[BINDING_KEY] = _mac(keyring, kid, token, content)


def check_binding(
    keyring: Keyring,
    *,
    kid: str,
    token: str,
    binding: object,
    task_id: str,
    task_name: str,
    args: Any,
    kwargs: Any,
    embedded: Sequence[Any],
    group: list[Any] | None = None,
    retries: Any = 0,
    expires: Any = None,
) -> None:
    """Raise ``EnvelopeBindingInvalid`` unless ``binding`` is the token's MAC for this message
    (``group``: :func:`binding_group` of its request; ``retries``: :func:`binding_retries`;
    ``expires``: :func:`binding_expires`)."""
    content = _content(
        task_id, task_name, args, kwargs, embedded, group=group, retries=retries, expires=expires
    )
    expected = _mac(keyring, kid, token, content)
    if not isinstance(binding, str) or not hmac.compare_digest(expected, binding):
        raise EnvelopeBindingInvalid(
            f"the envelope on job {task_id} ({task_name}) was made for another message: its "
            f"{BINDING_KEY} header is {'missing' if not binding else 'for other contents'} (a "
            "header copied onto a new job id, new arguments, another task, another callback or "
            "another chord); "
            "publish jobs through an Orchestrator or from a Baton task, which bind each message"
        )
