"""Helpers of the in-process measurements (b, d and the profiles): a worker runtime, real tokens.

Every token a measurement verifies is distinct (its own child envelope, numbered across the
process), so a memo of verified tokens cannot flatter the figures: each is the full price.
"""

from __future__ import annotations

import itertools
import json
import statistics
import time
from collections.abc import Callable, Iterable
from types import SimpleNamespace
from typing import Any, TypeVar

from names import REGION

from envelope import (
    BINDING_KEY,
    HEADER_KEY,
    TASK_NAME,
    BedrockEnvelope,
    Lineage,
    bind_message,
    encode,
)
from workers import WorkerSettings
from workers.runtime import WorkerRuntime

#: The model every benchmark envelope names (eu-west-1's Sonnet 4 profile).
MODEL_ID = "eu.anthropic.claude-sonnet-4-20250514-v1:0"

#: An endpoint on loopback, like the emulator's: http, allowed by the default policy.
LOCAL_ENDPOINT = "http://127.0.0.1:8750"

T = TypeVar("T")

#: Numbers every child envelope this process signs, so that no two tokens are ever equal.
_SERIAL = itertools.count()


def make_envelope(
    *, region: str = REGION, endpoint_url: str | None = LOCAL_ENDPOINT
) -> BedrockEnvelope:
    """Return a root envelope valid for an hour, signed with the default key id."""
    now = int(time.time())
    return BedrockEnvelope(
        region=region,
        cross_region=True,
        model_id=MODEL_ID,
        endpoint_url=endpoint_url,
        lineage=Lineage(root_id="bench-root"),
        iat=now,
        exp=now + 3600,
        kid="default",
    )


def make_runtime() -> WorkerRuntime:
    """Return a worker runtime from the environment, its policy fixed as at worker start."""
    runtime = WorkerRuntime(WorkerSettings())
    runtime.configure_policy(())
    return runtime


def bound_request(runtime: WorkerRuntime, job: str, token: str, kwargs: dict[str, Any]) -> Any:
    """A task request as a worker sees one: its envelope and its binding to this message."""
    headers: dict[str, Any] = {"id": job, "task": TASK_NAME}
    bind_message(runtime.keyring, headers, ((), kwargs, {}), token)
    return SimpleNamespace(
        id=job, args=[], kwargs=kwargs, **{HEADER_KEY: token, BINDING_KEY: headers[BINDING_KEY]}
    )


def make_requests(runtime: WorkerRuntime, root: BedrockEnvelope, count: int) -> list[Any]:
    """Return ``count`` task requests, each carrying its own signed child envelope."""
    requests = []
    for _ in range(count):
        job = f"job-{next(_SERIAL)}"
        token = runtime.sign(root.child(parent_id=job))
        requests.append(bound_request(runtime, job, token, {"prompt": "hello"}))
    return requests


def tokens(runtime: WorkerRuntime, root: BedrockEnvelope, count: int) -> list[str]:
    """Return ``count`` distinct signed child tokens of ``root``."""
    return [
        encode(root.child(parent_id=f"t-{next(_SERIAL)}"), keyring=runtime.keyring)
        for _ in range(count)
    ]


def per_call_ns(fn: Callable[[T], object], items: Iterable[T]) -> list[int]:
    """Call ``fn`` on each item and return each call's duration in nanoseconds."""
    clock = time.perf_counter_ns
    samples = []
    for item in items:
        started = clock()
        fn(item)
        samples.append(clock() - started)
    return samples


def summary_us(samples_ns: list[int]) -> dict[str, float]:
    """Return the median, 90th percentile and mean of ``samples_ns``, in microseconds."""
    ordered = sorted(samples_ns)
    return {
        "median_us": round(statistics.median(ordered) / 1000, 3),
        "p90_us": round(ordered[int(0.9 * (len(ordered) - 1))] / 1000, 3),
        "mean_us": round(statistics.fmean(ordered) / 1000, 3),
        "count": len(ordered),
    }


def emit(result: dict[str, Any]) -> None:
    """Print ``result`` as the last line of stdout, where the harness reads it."""
    print(json.dumps(result, default=str), flush=True)
