"""Optional OpenTelemetry: the trace context travels beside the envelope, one span per job.

Install the ``otel`` extra to turn it on; without OpenTelemetry every function here is a no-op.
The W3C ``traceparent`` header rides in the same message headers as ``baton_envelope``, and the
gate opens a ``baton.subagent`` span as a child of the publisher's span, so a whole agent tree
is one trace.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from envelope import BedrockEnvelope

try:
    from opentelemetry import propagate, trace
except ImportError:  # pragma: no cover - exercised only without the otel extra
    propagate = None  # type: ignore[assignment]
    trace = None  # type: ignore[assignment]

#: Header keys the W3C propagator writes; read from the request like the envelope.
TRACE_HEADERS = ("traceparent", "tracestate")

_NO_SPAN: AbstractContextManager[object] = nullcontext()


def inject(headers: MutableMapping[str, Any]) -> None:
    """Add the current span's context to a message's headers, unless it carries one already."""
    if propagate is None or "traceparent" in headers:
        return
    propagate.inject(headers)


def _carrier(request: Any) -> dict[str, str]:
    headers = getattr(request, "headers", None) or {}
    carrier = {}
    for key in TRACE_HEADERS:
        value = getattr(request, key, None) or headers.get(key)
        if value:
            carrier[key] = str(value)
    return carrier


def job_span(
    request: Any, *, task_name: str, envelope: BedrockEnvelope
) -> AbstractContextManager[object]:
    """Return a context that runs a job inside a span whose parent is the publisher's span.

    Without OpenTelemetry, or with neither an SDK nor a parent trace (the span would record
    nothing and carry nothing), it is a shared no-op context: this runs for every job.
    """
    if trace is None or propagate is None:
        return _NO_SPAN
    carrier = _carrier(request)
    if not carrier and isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return _NO_SPAN
    attributes: dict[str, str | int] = {
        "baton.task": task_name,
        "baton.job_id": str(getattr(request, "id", "")),
        "baton.region": envelope.region,
        "baton.model_id": envelope.model_id,
        "baton.depth": envelope.lineage.depth,
        "baton.root_id": envelope.lineage.root_id,
    }
    return trace.get_tracer("baton.workers").start_as_current_span(
        task_name, context=propagate.extract(carrier), attributes=attributes
    )
