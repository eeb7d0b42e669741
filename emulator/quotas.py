"""Per-model quotas, counted the way Bedrock counts them: requests and tokens per minute.

Bedrock keys a quota by the source region and the model or inference-profile ID called, so an
on-demand call (``anthropic.claude-...``) and a cross-Region call (``eu.anthropic.claude-...``)
draw on separate quotas, and Converse, InvokeModel and their streams all draw on the same one.
A call reserves, at admission, its input tokens plus ``maxTokens`` (the model's maximum when the
call sets none); when its answer is sent the reservation is settled to what it used, output
tokens counted at the burndown rate. Over quota the answer is 429 ThrottlingException, "Too many
requests, ..." or "Too many tokens, ...".

Each quota is a token bucket refilled at its per-minute figure / 60 a second. The requests bucket
holds ``burst_seconds`` of it, so ``requests_per_minute=600`` admits 10 calls a second with a burst
of 10; the tokens bucket holds a minute's worth, the quota itself, from which reservations are
taken and to which settlements return. A full bucket admits one call of any size (its level then
goes below zero), so a call whose reservation alone exceeds a bucket's size is slow, never
impossible. A throttled call reserves nothing. The settlement is applied when the answer leaves,
after the emulator's latency, as Bedrock frees a reservation when the call ends.
"""

from __future__ import annotations

import heapq
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields, replace

from emulator.errors import ConfigurationError, Throttling

#: Bedrock's two throttling messages: over the requests quota, and over the tokens quota.
TOO_MANY_REQUESTS = "Too many requests, please wait before trying again."
TOO_MANY_TOKENS = "Too many tokens, please wait before trying again."
#: What a call without ``maxTokens`` reserves: a model's maximum output (Claude Sonnet 4's is 64K;
#: the emulator serves every model alike, so one figure stands for all).
DEFAULT_MAX_OUTPUT_TOKENS = 64_000
#: One second of the requests quota may be used at once.
DEFAULT_BURST_SECONDS = 1.0
#: The tokens quota is per minute: its bucket holds the whole minute.
TOKEN_BUCKET_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class QuotaSettings:
    """The quota of every (region, model ID) key; each key has buckets of its own.

    Attributes:
        requests_per_minute: calls admitted per minute per key; None for no request quota.
        tokens_per_minute: tokens per minute per key; None for no token quota.
        burst_seconds: how many seconds' worth of the requests quota may be used at once.
        max_output_tokens: what a call that sets no ``maxTokens`` reserves for its output.
        output_burndown: how many quota tokens one output token costs (1 for most models).
    """

    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    burst_seconds: float = DEFAULT_BURST_SECONDS
    max_output_tokens: int = DEFAULT_MAX_OUTPUT_TOKENS
    output_burndown: float = 1.0

    def __post_init__(self) -> None:
        """Refuse a figure that cannot be counted with, naming it."""
        for name in ("requests_per_minute", "tokens_per_minute"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or value < 1):
                raise ConfigurationError(f"{name} must be a whole number of at least 1, or null")
        for name in ("burst_seconds", "max_output_tokens", "output_burndown"):
            if getattr(self, name) <= 0:
                raise ConfigurationError(f"{name} must be positive")

    @property
    def active(self) -> bool:
        """Return whether any quota is set."""
        return self.requests_per_minute is not None or self.tokens_per_minute is not None

    def updated(self, changes: Mapping[str, object]) -> QuotaSettings:
        """Return these settings with ``changes`` applied, as the admin endpoint takes them.

        Raises:
            ConfigurationError: an unknown field, a value of the wrong type, or a bad value.
        """
        known = {field.name for field in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ConfigurationError(
                f"unknown quota setting {', '.join(unknown)} (known: {', '.join(sorted(known))})"
            )
        values: dict[str, object] = {}
        for name, value in changes.items():
            nullable = name in ("requests_per_minute", "tokens_per_minute")
            if value is None and nullable:
                values[name] = None
            elif isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigurationError(f"{name} must be a number, not {value!r}")
            else:
                values[name] = int(value) if nullable or name == "max_output_tokens" else value
        return replace(self, **values)  # type: ignore[arg-type]

    def as_dict(self) -> dict[str, object]:
        """Return the settings as JSON-ready values."""
        return asdict(self)


class _Bucket:
    """A token bucket with settlements that fall due later (a min-heap of (due time, refund))."""

    def __init__(self, per_minute: int, burst_seconds: float, now: float) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(self.rate * burst_seconds, 1.0)
        self.level = self.capacity
        self.stamp = now
        self._due: list[tuple[float, float]] = []

    def _advance(self, now: float) -> None:
        while self._due and self._due[0][0] <= now:
            at, refund = heapq.heappop(self._due)
            self._refill(at)
            self.level = min(self.capacity, self.level + refund)
        self._refill(now)

    def _refill(self, now: float) -> None:
        if now > self.stamp:
            self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
            self.stamp = now

    def admits(self, cost: float, now: float) -> bool:
        self._advance(now)
        return self.level >= cost or self.level >= self.capacity

    def take(self, cost: float) -> None:
        self.level -= cost

    def settle(self, refund: float, at: float) -> None:
        """Give back ``refund`` (negative: take more) when the call ends, at ``at``."""
        if refund:
            heapq.heappush(self._due, (at, refund))


@dataclass(frozen=True, slots=True)
class Admission:
    """A call let through: its key and what it reserved, to be settled when it ends."""

    key: tuple[str, str]
    reserved_tokens: int


class QuotaBook:
    """The buckets of every key, under one lock: the server's thread and a test's may both call.

    Args:
        settings: the quota in force at first.
        clock: the time source (monotonic seconds).
    """

    def __init__(
        self, settings: QuotaSettings | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._settings = settings or QuotaSettings()
        self._clock = clock
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str], _Bucket] = {}
        self._tokens: dict[tuple[str, str], _Bucket] = {}

    @property
    def settings(self) -> QuotaSettings:
        """Return the quota in force."""
        return self._settings

    def configure(self, settings: QuotaSettings) -> None:
        """Replace the quota; every key starts again with full buckets."""
        with self._lock:
            self._settings = settings
            self._requests.clear()
            self._tokens.clear()

    def admit(self, *, region: str, model_id: str, reserved_tokens: int) -> Admission | None:
        """Reserve one request and ``reserved_tokens`` for a call, or raise its 429.

        Returns:
            The admission to settle, or None when no quota is set.

        Raises:
            Throttling: "Too many requests" or "Too many tokens"; the call reserved nothing.
        """
        settings = self._settings
        if not settings.active:
            return None
        key = (region, model_id)
        with self._lock:
            now = self._clock()
            requests = self._bucket(
                self._requests, key, settings.requests_per_minute, settings.burst_seconds, now
            )
            tokens = self._bucket(
                self._tokens, key, settings.tokens_per_minute, TOKEN_BUCKET_SECONDS, now
            )
            if requests is not None and not requests.admits(1, now):
                raise Throttling(TOO_MANY_REQUESTS)
            if tokens is not None and not tokens.admits(reserved_tokens, now):
                raise Throttling(TOO_MANY_TOKENS)
            if requests is not None:
                requests.take(1)
            if tokens is not None:
                tokens.take(reserved_tokens)
        return Admission(key, reserved_tokens)

    def settle(self, admission: Admission | None, *, used_tokens: float, after: float) -> None:
        """Settle a call's reservation to ``used_tokens`` once its answer leaves, ``after`` s."""
        if admission is None:
            return
        with self._lock:
            bucket = self._tokens.get(admission.key)
            if bucket is not None:
                bucket.settle(admission.reserved_tokens - used_tokens, self._clock() + after)

    def _bucket(
        self,
        buckets: dict[tuple[str, str], _Bucket],
        key: tuple[str, str],
        per_minute: int | None,
        seconds: float,
        now: float,
    ) -> _Bucket | None:
        if per_minute is None:
            return None
        bucket = buckets.get(key)
        if bucket is None:
            bucket = buckets[key] = _Bucket(per_minute, seconds, now)
        return bucket


def reserved_tokens(body: bytes, *, max_output_tokens: int) -> int:
    """Return what a call reserves at admission: its input tokens plus its output cap.

    Input is counted as the emulator counts it (words of every text in the body); the cap is
    Converse's ``inferenceConfig.maxTokens`` or the Messages API's ``max_tokens``, or
    ``max_output_tokens`` when the call sets neither. A body that is not JSON reserves the cap.
    """
    try:
        document = json.loads(body or b"{}")
    except (ValueError, RecursionError):
        return max_output_tokens
    if not isinstance(document, dict):
        return max_output_tokens
    config = document.get("inferenceConfig")
    cap = config.get("maxTokens") if isinstance(config, dict) else document.get("max_tokens")
    if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
        cap = max_output_tokens
    return _words(document.get("system")) + _words(document.get("messages")) + cap


def used_tokens(usage: Mapping[str, object], *, burndown: float) -> float:
    """Return what a finished call counts against the quota, from its usage figures."""
    numbers = {key: value for key, value in usage.items() if isinstance(value, int | float)}
    read = numbers.get("inputTokens", numbers.get("input_tokens", 0))
    written = numbers.get("outputTokens", numbers.get("output_tokens", 0))
    cache = numbers.get("cacheReadInputTokens", 0) + numbers.get("cacheWriteInputTokens", 0)
    return float(read + cache + written * burndown)


def _words(value: object) -> int:
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, list):
        return sum(_words(item) for item in value)
    if isinstance(value, dict):
        return sum(_words(item) for item in value.values())
    return 0
