"""Parent-side propagation: under ``Orchestrator.propagating()`` every publish carries the envelope.

Signatures embedded in the message (link, link_error, later chain steps, a chord body) are
stamped with the same token, so the workers that publish them later send the same configuration.

Every message a parent's Baton app publishes with an envelope is bound to itself
(``envelope.binding``) with the keyring its Orchestrator registered, ``spawn`` included; other
Celery apps' publishes are left alone (``fleet.baton_publishing``).

The signal handler and its pair live here, on the producer side; the worker side has its own in
``workers.hooks``. Neither side imports the other.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery.signals import before_task_publish

from envelope import HEADER_KEY, BedrockEnvelope, EnvelopeMalformed, Keyring, bind_message, key_id
from fleet import PROPAGATING, baton_publishing, stamp_body

#: The keyrings of this process's Orchestrators, by each key id they hold: a message is bound
#: with the key its token names.
_KEYRINGS: dict[str, Keyring] = {}


def _attach(body: Any = None, headers: dict[str, Any] | None = None, **_: Any) -> None:
    if headers is None or not baton_publishing():
        return
    token = headers.get(HEADER_KEY)
    if not token:
        active = PROPAGATING.get()
        if active is None:
            return
        token = headers[HEADER_KEY] = active[1]
    stamp_body(body, token)
    if not _KEYRINGS:
        return  # a keyless process (status, dead-letters): nothing to bind with
    try:
        keyring = _KEYRINGS.get(key_id(token))
    except EnvelopeMalformed:
        return  # not a token at all: the worker refuses it, bound or not
    if keyring is not None:
        bind_message(keyring, headers, body, token)


def connect(keyring: Keyring) -> None:
    """Install the producer's publish hook (idempotent), binding with ``keyring``'s keys."""
    _KEYRINGS.update(dict.fromkeys(keyring.keys, keyring))
    before_task_publish.connect(_attach, weak=False, dispatch_uid="baton.orchestrator.attach")


def disconnect() -> None:
    """Remove the producer's publish hook and forget the keyrings.

    The hook is process-wide and shared by every Orchestrator of the process, so closing one
    does not call this; a process that tears its parents down (a test, an embedding host) does.
    """
    before_task_publish.disconnect(_attach, dispatch_uid="baton.orchestrator.attach")
    _KEYRINGS.clear()


@contextmanager
def propagating(envelope: BedrockEnvelope, token: str) -> Iterator[BedrockEnvelope]:
    """Attach ``token`` to every Baton publish in this context that has no envelope yet."""
    reset = PROPAGATING.set((envelope, token))
    try:
        yield envelope
    finally:
        PROPAGATING.reset(reset)
