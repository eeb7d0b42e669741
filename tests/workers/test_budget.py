"""The job budget of a tree: its explicit spawn and the model's jobs under it count, a repeat gets
its first answer, and it fails closed.

The Redis side runs on fakeredis with Lua (lupa): the same script a worker runs on a server.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from envelope import child_jobs_key
from workers.delivery import budget


@pytest.fixture()
def backend(fake_redis):
    return SimpleNamespace(client=fake_redis.client(1))


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


def test_a_turn_asking_again_gets_its_first_answer_and_reserves_nothing_more(backend):
    def ask(job: str, count: int) -> bool:
        return reserve(backend, f"{job}:1", count=count, limit=5)

    assert ask("first", 3) and ask("first", 3)  # a redelivered turn: same answer, counted once
    assert not ask("second", 3) and not ask("second", 3)  # 6 > 5: refused, and stays refused
    assert ask("third", 2)  # the refusals gave their jobs back
    assert int(backend.client.get(f"{budget.KEY_PREFIX}root-1")) == 5


def test_the_counter_and_the_answers_expire_with_the_envelope(backend):
    reserve(backend, "job-0:root")

    assert 0 < backend.client.ttl(f"{budget.KEY_PREFIX}root-1") <= 60
    assert 0 < backend.client.ttl(f"{budget.RESERVATION_PREFIX}job-0:root") <= 60


def test_children_are_recorded_in_order_and_expire_with_the_envelope(backend):
    budget.record_children(backend, job_id="job-0", child_ids=["c1", "c2"], ttl=60)
    budget.record_children(backend, job_id="job-0", child_ids=[], ttl=60)  # nothing to add

    assert backend.client.lrange(child_jobs_key("job-0"), 0, -1) == [b"c1", b"c2"]
    assert 0 < backend.client.ttl(child_jobs_key("job-0")) <= 60


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


def envelope_at(depth: int, root_id: str = "parent-root"):
    from envelope import Lineage
    from tests.factories import make_envelope

    return make_envelope(
        lineage=Lineage(root_id=root_id, parent_id="p" if depth else None, depth=depth)
    )


def test_an_explicit_spawn_is_a_tree_of_its_own(backend):
    assert budget.tree_of(backend, job_id="spawn-1", envelope=envelope_at(0)) == "spawn-1"


def test_children_and_grandchildren_count_against_the_spawn_they_descend_from(backend):
    budget.record_children(
        backend, job_id="spawn-1", child_ids=["c1", "c2"], ttl=60, tree="spawn-1"
    )
    tree = budget.tree_of(backend, job_id="c1", envelope=envelope_at(1))
    budget.record_children(backend, job_id="c1", child_ids=["g1"], ttl=60, tree=tree)

    assert budget.tree_of(backend, job_id="g1", envelope=envelope_at(2)) == "spawn-1"
    assert budget.tree_of(backend, job_id="c2", envelope=envelope_at(1)) == "spawn-1"
    lifetime = envelope_at(2).exp - envelope_at(2).iat  # read again: kept alive by each read
    assert 0 < backend.client.ttl(f"{budget.TREE_PREFIX}g1") <= lifetime


def test_a_child_with_no_record_counts_against_its_parents_root_never_its_own(backend):
    assert budget.tree_of(backend, job_id="orphan", envelope=envelope_at(1)) == "parent-root"


def test_an_in_memory_backend_keeps_trees_in_its_process():
    memory = SimpleNamespace(client=None, backend="memory")
    budget.record_children(memory, job_id="s", child_ids=["mem-c"], ttl=60, tree="s")

    assert budget.tree_of(memory, job_id="mem-c", envelope=envelope_at(1)) == "s"
