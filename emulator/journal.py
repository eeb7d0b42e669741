"""The record of every call that reached the emulator, refused ones included.

Tests prove inheritance with it: every call a job tree made was signed for the parent's region,
with the parent's model ID, and a decoy emulator (the endpoint a leaky client would fall back to)
received nothing at all. It is bounded, so a long benchmark cannot grow it without limit, and
thread-safe, because the server appends from its event-loop thread while a test reads from its own.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import asdict, dataclass, field

#: Enough for any test or demo; older entries fall off first.
DEFAULT_JOURNAL_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class Call:
    """One request as the emulator judged it. Field names are the JSON keys of ``/_baton/calls``.

    Attributes:
        operation: ``Converse``, ``ConverseStream``, ``InvokeModel``,
            ``InvokeModelWithResponseStream``, ``ListInferenceProfiles``, ``GetInferenceProfile``
            (or another Bedrock operation name the path names), an STS action such as
            ``AssumeRole``, or None for a request that names no operation.
        region: the region of the SigV4 credential scope, or None when there was none.
        model_id: the model ID (or, for GetInferenceProfile, the profile ID or ARN) from the
            path, URL-decoded; for AssumeRole, the role ARN asked for; or None.
        access_key_id: the access key the request claimed, verified or not, or None.
        auth: ``sigv4``, ``bearer``, ``none`` (no Authorization header) or ``other``.
        status: the HTTP status the emulator answered with; 0 when an injected fault dropped
            the connection without answering.
        error_code: the AWS error type of a refusal or an injected fault (``ThrottlingException``
            ...), ``ConnectionDropped`` for a dropped connection, None on success.
        at: when the call was answered, in seconds since the epoch (the wall clock, so calls
            from several processes can be compared); 0 when not recorded. Left out of ``==``,
            which compares what was called, not when.
        message: the error message of a throttled call (which of Bedrock's two 429s), else None.
    """

    operation: str | None
    region: str | None
    model_id: str | None
    access_key_id: str | None
    auth: str
    status: int
    error_code: str | None
    at: float = field(default=0.0, compare=False)
    message: str | None = None

    def as_dict(self) -> dict[str, object]:
        """Return the entry as served in JSON."""
        return asdict(self)


class Journal:
    """A bounded, thread-safe, append-only list of :class:`Call` entries."""

    def __init__(self, maxlen: int = DEFAULT_JOURNAL_SIZE) -> None:
        """Keep at most ``maxlen`` entries, dropping the oldest first."""
        self._calls: deque[Call] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def record(self, call: Call) -> None:
        """Append one entry."""
        with self._lock:
            self._calls.append(call)

    def calls(self) -> list[Call]:
        """Return a copy of the entries, oldest first."""
        with self._lock:
            return list(self._calls)

    def clear(self) -> int:
        """Forget every entry and return how many there were."""
        with self._lock:
            count = len(self._calls)
            self._calls.clear()
            return count

    def __len__(self) -> int:
        with self._lock:
            return len(self._calls)
