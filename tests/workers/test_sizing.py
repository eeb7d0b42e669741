"""Pools and the descriptor limit follow the worker's concurrency, with no tuning by the user."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import pytest

from workers.clients import ClientCache
from workers.sizing import HEADROOM, pool_limit, sized_settings


def test_every_pool_is_sized_above_the_concurrency():
    conf = SimpleNamespace(
        broker_transport_options={"visibility_timeout": 60},
        broker_pool_limit=10,
        redis_max_connections=None,
    )

    sized = sized_settings(conf, concurrency=1000)

    assert sized["broker_pool_limit"] == 1000 + HEADROOM
    assert sized["broker_transport_options"] == {
        "visibility_timeout": 60,
        "max_connections": 1000 + HEADROOM,
    }
    assert sized["redis_max_connections"] == 2 * 1000 + HEADROOM


def test_a_pool_the_operator_made_larger_stays_as_large():
    conf = SimpleNamespace(
        broker_transport_options={"max_connections": 5000},
        broker_pool_limit=4000,
        redis_max_connections=3000,
    )

    sized = sized_settings(conf, concurrency=100)

    assert sized["broker_transport_options"]["max_connections"] == 5000
    assert sized["broker_pool_limit"] == 4000
    assert sized["redis_max_connections"] == 3000
    assert pool_limit(100) < 3000


def test_bedrock_clients_built_after_a_resize_get_one_connection_per_slot():
    cache = ClientCache(max_pool_connections=10, max_size=4)

    cache.resize(max_pool_connections=500)
    cache.resize(max_pool_connections=50)  # never shrinks below what a slot count asked for

    assert cache.max_pool_connections == 500


@pytest.mark.integration  # a child process
def test_the_soft_descriptor_limit_is_raised_to_the_hard_one_when_too_low():
    # In a child process: the limit is the process's own.
    script = (
        "import resource\n"
        "from workers.sizing import raise_open_files\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))\n"
        "print(raise_open_files(needed=4000) == resource.getrlimit(resource.RLIMIT_NOFILE),"
        " resource.getrlimit(resource.RLIMIT_NOFILE)[0] == hard)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=True
    )
    assert result.stdout.split() == ["True", "True"]
