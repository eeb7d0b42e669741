"""The job budget of a tree: roots count, a repeat gets its first answer, and it fails closed.

The Redis side runs on fakeredis with Lua (lupa): the same script a worker runs on a server.
"""

from __future__ import annotations

from types import SimpleNamespace

import fakeredis
import pytest

from workers.delivery import budget


@pytest.fixture()
def backend():
    client = fakeredis.FakeRedis()
    yield SimpleNamespace(client=client)
    client.close()


def reserve(backend, reservation: str, *, count: int = 1, limit: int = 3) -> bool:
    return budget.reserve(
        backend, root_id="root-1", reservation=reservation, count=count, limit=limit, ttl=60
    )


def test_roots_and_children_share_the_trees_budget(backend):
    assert [reserve(backend, f"job-{i}:root") for i in range(4)] == [True, True, True, False]
    assert not reserve(backend, "job-0:1", count=1)  # no child fits once the roots took it all


def test_a_repeated_reservation_gets_its_first_answer_and_counts_once(backend):
    assert reserve(backend, "job-0:root", limit=1)
    assert reserve(backend, "job-0:root", limit=1)  # a redelivered first turn
    assert not reserve(backend, "job-1:root", limit=1)
    assert not reserve(backend, "job-1:root", limit=1)


def test_without_a_redis_client_the_budget_fails_closed():
    assert not reserve(SimpleNamespace(client=None), "job-0:root")


def test_an_in_memory_backend_counts_in_its_process():
    memory = SimpleNamespace(client=None, backend="memory")
    root = "root-in-memory"
    answers = [
        budget.reserve(memory, root_id=root, reservation=f"j{i}", count=1, limit=2, ttl=60)
        for i in range(3)
    ]
    assert answers == [True, True, False]
