"""Injected faults: the errors, delays and dropped connections of a Bedrock under strain.

Retry logic, timeouts and backoff are only proven against failures, so the emulator produces them
on demand, by rate. One random draw per call picks at most one fault (the rates must add up to 1
or less); latency, plus a uniform extra of up to ``jitter``, delays every answer. With a seed,
the sequence of outcomes is the same on every run, so a test can count on "the third call is
throttled". Faults touch only Bedrock runtime calls that passed authentication, authorisation and
model validation: a 403 or a 400 stays deterministic whatever the rates are.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace

from emulator.errors import (
    ConfigurationError,
    InjectedFault,
    ModelError,
    ModelNotReady,
    ServiceUnavailable,
    Throttling,
)

#: The journal's error code for a call whose connection was dropped; its status is 0, since no
#: response was sent.
DROPPED_ERROR_CODE = "ConnectionDropped"
#: The rate fields, in the order one draw tests them, and the error each injects.
_RATED: tuple[tuple[str, type[InjectedFault] | None], ...] = (
    ("drop_rate", None),
    ("throttle_rate", Throttling),
    ("unavailable_rate", ServiceUnavailable),
    ("model_error_rate", ModelError),
    ("not_ready_rate", ModelNotReady),
)


@dataclass(frozen=True, slots=True)
class FaultSettings:
    """What to inject: five rates (0 to 1, summing to at most 1) and a delay in seconds.

    Attributes:
        throttle_rate: share of calls answered 429 ThrottlingException.
        unavailable_rate: share answered 503 ServiceUnavailableException.
        model_error_rate: share answered 424 ModelErrorException.
        not_ready_rate: share answered 429 ModelNotReadyException.
        drop_rate: share whose connection is closed without any response.
        latency: seconds waited before every answer.
        jitter: the most seconds added at random (uniformly) on top of ``latency``.
    """

    throttle_rate: float = 0.0
    unavailable_rate: float = 0.0
    model_error_rate: float = 0.0
    not_ready_rate: float = 0.0
    drop_rate: float = 0.0
    latency: float = 0.0
    jitter: float = 0.0

    def __post_init__(self) -> None:
        """Refuse settings that cannot be drawn from, saying which value is wrong."""
        for name, _ in _RATED:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigurationError(f"{name} must be between 0 and 1, not {value}")
        if self.total_rate > 1.0 + 1e-9:
            raise ConfigurationError(
                f"the fault rates add up to {self.total_rate:g}; one call gets at most one "
                "fault, so keep their sum at 1 or less"
            )
        for name in ("latency", "jitter"):
            if getattr(self, name) < 0:
                raise ConfigurationError(f"{name} must be zero or positive")

    @property
    def total_rate(self) -> float:
        """Return the share of calls that get some fault."""
        return float(sum(getattr(self, name) for name, _ in _RATED))

    def updated(self, changes: Mapping[str, object]) -> FaultSettings:
        """Return these settings with ``changes`` applied, as the admin endpoint takes them.

        Raises:
            ConfigurationError: an unknown field, a value that is not a number, or a bad value.
        """
        known = {field.name for field in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ConfigurationError(
                f"unknown fault setting {', '.join(unknown)} (known: {', '.join(sorted(known))})"
            )
        numbers: dict[str, float] = {}
        for name, value in changes.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigurationError(f"{name} must be a number, not {value!r}")
            numbers[name] = float(value)
        return replace(self, **numbers)

    def as_dict(self) -> dict[str, float]:
        """Return the settings as JSON-ready numbers."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Fault:
    """What one call gets: a delay, then an error, a dropped connection, or its real answer."""

    delay: float = 0.0
    error: InjectedFault | None = None
    drop: bool = False


NO_FAULT = Fault()


class FaultInjector:
    """Draw each call's fault from the current settings; settings can change while serving.

    Args:
        settings: what to inject at first.
        seed: makes the draws repeatable; None seeds from the OS.
    """

    def __init__(self, settings: FaultSettings | None = None, *, seed: int | None = None) -> None:
        self._settings = settings or FaultSettings()
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    @property
    def settings(self) -> FaultSettings:
        """Return the settings in force."""
        return self._settings

    def configure(self, settings: FaultSettings, *, seed: int | None = None) -> None:
        """Replace the settings; reseed too when ``seed`` is given, to restart the sequence."""
        with self._lock:
            self._settings = settings
            if seed is not None:
                self._random.seed(seed)

    def draw(self) -> Fault:
        """Return the fault for the next call; no draw at all when nothing is configured."""
        settings = self._settings
        if not settings.total_rate and not settings.latency and not settings.jitter:
            return NO_FAULT
        with self._lock:
            roll = self._random.random() if settings.total_rate else 1.0
            extra = self._random.uniform(0.0, settings.jitter) if settings.jitter else 0.0
        delay = settings.latency + extra
        threshold = 0.0
        for name, error in _RATED:
            threshold += getattr(settings, name)
            if roll < threshold:
                return Fault(delay, None if error is None else error(), drop=error is None)
        return Fault(delay) if delay else NO_FAULT
