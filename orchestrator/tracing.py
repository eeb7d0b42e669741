"""Optional OpenTelemetry on the parent: a ``baton.spawn`` span per job, injected into headers.

Install the ``otel`` extra to turn it on; without OpenTelemetry these are no-ops.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

try:
    from opentelemetry import propagate, trace
except ImportError:  # pragma: no cover - exercised only without the otel extra
    propagate = None  # type: ignore[assignment]
    trace = None  # type: ignore[assignment]


@contextmanager
def spawn_span(
    headers: MutableMapping[str, Any], *, region: str, agent: str | None
) -> Iterator[None]:
    """Open a producer span for one spawn and write its context into ``headers``."""
    if trace is None or propagate is None:
        yield
        return
    tracer = trace.get_tracer("baton.orchestrator")
    attributes = {"baton.region": region, "baton.agent": agent or "general-purpose"}
    kind = trace.SpanKind.PRODUCER
    with tracer.start_as_current_span("baton.spawn", kind=kind, attributes=attributes):
        propagate.inject(headers)
        yield
