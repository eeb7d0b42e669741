"""(b) Client acquisition on a cache hit, against a boto3 Session and client per task.

Usage::

    BATON_ENVELOPE_KEY=... BATON_ALLOWED_REGIONS=eu-west-1 BATON_ALLOWED_ENDPOINTS=loopback \\
        python ops/bench/hotpath.py 20000 30

A hit is what the gate and the task do for every job once the process has its client:
``WorkerRuntime.admit(request)`` (decode, verify, policy) then ``runtime.clients.get(envelope)``.
The figure is the worse of two envelopes (regional endpoint, loopback endpoint), each job with a
token of its own; the details add the case of one token seen again and again (the children of
one turn share theirs), which a worker may verify once.
The baseline builds what a naive task would: a new ``boto3.Session()`` and a bedrock-runtime
client with the same configuration. Run by ``run.py`` in a fresh process; prints one JSON line.
"""

from __future__ import annotations

import sys
from typing import Any

import boto3
from inproc import (
    bound_request,
    emit,
    make_envelope,
    make_requests,
    make_runtime,
    per_call_ns,
    summary_us,
)

from envelope import HEADER_KEY, TASK_NAME
from workers import client_config
from workers.runtime import WorkerRuntime
from workers.settings import DEFAULT_MIN_POOL_CONNECTIONS


def cache_hits(runtime: WorkerRuntime, *, endpoint_url: str | None, count: int) -> list[int]:
    """Time ``count`` admissions and cache hits, each with a distinct token."""
    requests = make_requests(runtime, make_envelope(endpoint_url=endpoint_url), count + 1)
    runtime.clients.get(
        runtime.admit(requests[0], task_name=TASK_NAME)
    )  # the one miss, which builds the client

    def hit(request: Any) -> object:
        return runtime.clients.get(runtime.admit(request, task_name=TASK_NAME))

    return per_call_ns(hit, requests[1:])


def repeated_token_hits(runtime: WorkerRuntime, count: int) -> list[int]:
    """Time ``count`` admissions of one token (as siblings of one turn share), each a new str."""
    text = getattr(make_requests(runtime, make_envelope(), 1)[0], HEADER_KEY)
    requests = [
        bound_request(runtime, f"sibling-{index}", (text + " ")[:-1], {"prompt": "hello"})
        for index in range(count + 1)
    ]
    runtime.clients.get(runtime.admit(requests[0], task_name=TASK_NAME))

    def hit(request: Any) -> object:
        return runtime.clients.get(runtime.admit(request, task_name=TASK_NAME))

    return per_call_ns(hit, requests[1:])


def session_per_task(count: int) -> list[int]:
    """Time ``count`` builds of a new Session and client, as a task without a cache would."""
    envelope = make_envelope()
    config = client_config(envelope, max_pool_connections=DEFAULT_MIN_POOL_CONNECTIONS)

    def build(_: int) -> object:
        return boto3.Session().client(
            "bedrock-runtime",
            region_name=envelope.region,
            endpoint_url=envelope.endpoint_url,
            config=config,
        )

    build(0)  # the first also pulls botocore's data files into the page cache
    return per_call_ns(build, range(count))


def main(argv: list[str]) -> int:
    """Measure and print the JSON line the harness reads."""
    iterations, builds = int(argv[0]), int(argv[1])
    runtime = make_runtime()
    hit = summary_us(cache_hits(runtime, endpoint_url=None, count=iterations))
    hit_endpoint = summary_us(
        cache_hits(runtime, endpoint_url="http://127.0.0.1:8750", count=iterations)
    )
    repeated = summary_us(repeated_token_hits(runtime, iterations))
    build = summary_us(session_per_task(builds))
    worst = max(hit["median_us"], hit_endpoint["median_us"])
    emit(
        {
            "b_cache_hit_us": worst,
            "b_session_client_ms": build["median_us"] / 1000,
            "b_speedup": build["median_us"] / worst,
            "details": {
                "hit_regional_endpoint": hit,
                "hit_loopback_endpoint": hit_endpoint,
                "hit_repeated_token": repeated,
                "session_and_client": build,
                "cache": {"builds": runtime.clients.builds, "size": len(runtime.clients)},
            },
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
