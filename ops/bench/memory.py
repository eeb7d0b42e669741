"""(d) Resident memory per distinct cached client configuration, and the cache's LRU bound.

Usage::

    python ops/bench/memory.py 50 8

In a fresh process it warms the cache with one client (so the shared botocore session, its
loaders and the service model are already paid for), then builds ``K`` clients with distinct
envelopes (regions and endpoints differ, so every client fingerprint is new) and divides the
growth of the resident set by ``K``. A second cache with ``max_size`` below ``K`` shows the
bound: its size stays at ``max_size``, and every client past it is counted as an eviction.
Prints one JSON line.
"""

from __future__ import annotations

import gc
import os
import sys

from inproc import emit, make_envelope

from envelope import BedrockEnvelope
from workers.clients import ClientCache

#: Regions whose envelopes the run cycles through; each also gets its own endpoint port.
REGIONS = (
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-north-1",
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "ap-south-1",
    "ca-central-1",
    "sa-east-1",
)

#: Connections per client, as a worker at the default concurrency has.
POOL_CONNECTIONS = 10

_FIRST_PORT = 20000


def rss_bytes() -> int:
    """Return this process's resident set size, from /proc/self/statm."""
    with open("/proc/self/statm") as statm:
        resident_pages = int(statm.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


def distinct_envelopes(count: int) -> list[BedrockEnvelope]:
    """Return ``count`` envelopes whose client fingerprints all differ."""
    return [
        make_envelope(
            region=REGIONS[index % len(REGIONS)],
            endpoint_url=f"http://127.0.0.1:{_FIRST_PORT + index}",
        )
        for index in range(count)
    ]


def rss_per_client(count: int) -> dict[str, float]:
    """Return the resident-set growth per distinct client, after one warm client."""
    cache = ClientCache(max_pool_connections=POOL_CONNECTIONS, max_size=count + 1)
    cache.get(make_envelope(endpoint_url=None))
    envelopes = distinct_envelopes(count)
    gc.collect()
    before = rss_bytes()
    for envelope in envelopes:
        cache.get(envelope)
    gc.collect()
    after = rss_bytes()
    return {
        "d_rss_kib_per_client": (after - before) / count / 1024,
        "clients": count,
        "rss_before_mib": round(before / 2**20, 2),
        "rss_after_mib": round(after / 2**20, 2),
        "cache_size": len(cache),
    }


def lru_bound(count: int, max_size: int) -> dict[str, float]:
    """Build ``count`` distinct clients through a cache of ``max_size``; report what it kept."""
    cache = ClientCache(max_pool_connections=POOL_CONNECTIONS, max_size=max_size)
    envelopes = distinct_envelopes(count)
    for envelope in envelopes:
        cache.get(envelope)
    size, evictions, builds = len(cache), cache.evictions, cache.builds
    cache.get(envelopes[0])  # evicted long ago: must be built again, not found
    return {
        "d_lru_size": size,
        "d_lru_evictions": evictions,
        "max_size": max_size,
        "clients": count,
        "builds": builds,
        "rebuilt_after_eviction": cache.builds == builds + 1,
    }


def main(argv: list[str]) -> int:
    """Measure and print the JSON line the harness reads."""
    count, max_size = int(argv[0]), int(argv[1])
    rss = rss_per_client(count)
    lru = lru_bound(count, max_size)
    emit(
        {
            "d_rss_kib_per_client": rss["d_rss_kib_per_client"],
            "d_lru_size": lru["d_lru_size"],
            "d_lru_evictions": lru["d_lru_evictions"],
            "details": {"rss": rss, "lru": lru},
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
