"""The one Celery router: a job goes to the queue of its envelope's region.

It is a plain callable with Celery's router signature, so this package needs no Celery import.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from envelope.codec import peek
from envelope.constants import HEADER_KEY, queue_for
from envelope.errors import EnvelopeMalformed
from envelope.model import BedrockEnvelope


class EnvelopeRouter:
    """Route by the envelope in the message options, else by the caller's current envelope.

    The header is read without verification: routing is not a trust decision, the worker that
    receives the job verifies it.
    """

    def __init__(self, *, current: Callable[[], BedrockEnvelope | None]) -> None:
        self._current = current

    def __call__(
        self,
        name: str,
        args: Any,
        kwargs: Any,
        options: Mapping[str, Any],
        task: Any = None,
        **_: Any,
    ) -> dict[str, str] | None:
        region = self._region_from_options(options)
        if region is None:
            current = self._current()
            region = current.region if current is not None else None
        return {"queue": queue_for(region)} if region else None

    @staticmethod
    def _region_from_options(options: Mapping[str, Any]) -> str | None:
        token = (options.get("headers") or {}).get(HEADER_KEY)
        if not token:
            return None
        try:
            region = peek(token).get("region")
        except EnvelopeMalformed:
            return None
        return region if isinstance(region, str) else None
