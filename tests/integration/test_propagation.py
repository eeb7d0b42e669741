"""Propagation on every Celery path, for any task on the Baton app, on both brokers and all pools.

Each row is a path a job can take to run. "Celery alone" is what Celery copies without Baton
(measured; docs/celery-headers.md has the measurement and what follows from it); "Baton" is how
the envelope gets there. Expected lineage: the
parent's own publishes and the steps of one workflow share depth 0; anything published from
inside a task body is its child (depth 1, that task as parent_id).

| path                                | Celery alone | Baton                                 |
|-------------------------------------|--------------|---------------------------------------|
| direct call                         | yes          | header from the parent                |
| countdown, ETA                      | yes          | header from the parent                |
| self.retry(), autoretry_for         | yes          | Celery copies request.headers         |
| chain steps 2..n                    | no           | stamped into the embedded chain       |
| group members                       | yes          | header from the parent                |
| chord header and body               | yes          | header; body stamped when embedded    |
| link callback                       | no           | stamped into embedded callbacks       |
| link_error errback                  | no           | stamped into embedded errbacks        |
| errback after hard time limit (*)   | no           | stamped errback, main process sends   |
| errback after a lost worker (*)     | no           | stamped errback, main process sends   |
| Task.replace(signature), (chain)    | no           | child of the replaced task            |
| delay/apply_async/send_task in task | no           | child of the running job              |
| group().delay(), chord in a task    | no           | child of the running job              |
| ThreadPoolExecutor inside a task    | no           | submit runs in a copy of the context  |
| asyncio.run inside a task           | no           | context variables follow asyncio.run  |

(*) prefork only: the other pools have no hard time limit and no child to lose.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from celery import chain, chord, group

from tests.conftest import RedisServer, clean_env
from tests.support.brokers import broker_url
from tests.support.processes import Proc, celery_worker_argv

pytestmark = pytest.mark.integration

REGION = "eu-west-1"
TIMEOUT = 60


@dataclass
class Fleet:
    orch: Any
    pool: str
    broker: str

    def sig(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self.orch.app.signature(f"baton.test.{name}", args=args, kwargs=kwargs)

    def result(self, task_id: str) -> Any:
        return self.orch.app.AsyncResult(task_id)


@pytest.fixture(
    scope="module",
    params=[
        (b, p) for b in ("redis", "rabbitmq") for p in ("prefork", "threads", "gevent", "solo")
    ],
    ids=lambda param: f"{param[0]}-{param[1]}",
)
def fleet(request, redis_server: RedisServer) -> Iterator[Fleet]:
    broker_kind, pool = request.param
    with broker_url(broker_kind, redis_server.url(2)) as broker:
        yield from _fleet(broker, redis_server.url(3), broker_kind, pool)


def _fleet(broker: str, backend: str, broker_kind: str, pool: str) -> Iterator[Fleet]:
    from orchestrator import (
        Orchestrator,
        ProducerSettings,
        capture,
        close_producer,
        producer_app,
    )

    key = secrets.token_urlsafe(32)
    env = clean_env(BATON_BROKER_URL=broker, BATON_RESULT_BACKEND=backend, BATON_ENVELOPE_KEY=key)
    worker = Proc(
        celery_worker_argv(
            regions=[REGION],
            pool=pool,
            concurrency=1 if pool == "solo" else 3,
            include="tests.integration.worker_tasks",
        ),
        env=env,
        name=f"worker-{broker_kind}-{pool}",
    )
    settings = ProducerSettings(broker_url=broker, result_backend=backend, envelope_key=key)
    app = producer_app(settings)
    try:
        worker.wait_for(" ready.")
        config = capture(environ={"AWS_REGION": REGION})
        yield Fleet(Orchestrator(config=config, settings=settings, app=app), pool, broker_kind)
    finally:
        close_producer(app)
        worker.kill()


def assert_inherited(fleet: Fleet, seen: dict[str, Any], *, depth: int, parent: str | None):
    envelope = fleet.orch.envelope
    assert (seen["region"], seen["model_id"]) == (envelope.region, envelope.model_id)
    assert seen["root_id"] == fleet.orch.root_id
    assert (seen["depth"], seen["parent_id"]) == (depth, parent)


def publish(fleet: Fleet, sig: Any, **options: Any) -> Any:
    with fleet.orch.propagating():
        return sig.apply_async(**options)


# Paths published by the parent: everything runs at depth 0 ----------------------------------


def _direct(fleet: Fleet) -> list[Any]:
    return [publish(fleet, fleet.sig("probe", tag="direct")).get(timeout=TIMEOUT)]


def _countdown_and_eta(fleet: Fleet) -> list[Any]:
    eta = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=0.3)
    jobs = [
        publish(fleet, fleet.sig("probe"), countdown=0.3),
        publish(fleet, fleet.sig("probe"), eta=eta),
    ]
    return [job.get(timeout=TIMEOUT) for job in jobs]


def _retry(fleet: Fleet) -> list[Any]:
    seen = [
        publish(fleet, fleet.sig(name)).get(timeout=TIMEOUT)
        for name in ("retry_once", "autoretry_once")
    ]
    assert [s["retries"] for s in seen] == [1, 1]
    return seen


def _chain(fleet: Fleet) -> list[Any]:
    last = publish(
        fleet,
        chain(
            fleet.sig("probe", tag="c1"), fleet.sig("probe", tag="c2"), fleet.sig("probe", tag="c3")
        ),
    )
    results = [last, last.parent, last.parent.parent]
    return [r.get(timeout=TIMEOUT) for r in results]


def _group(fleet: Fleet) -> list[Any]:
    result = publish(fleet, group(fleet.sig("probe", tag="g1"), fleet.sig("probe", tag="g2")))
    return result.get(timeout=TIMEOUT)


def _chord(fleet: Fleet) -> list[Any]:
    header = [fleet.sig("probe", tag="h1"), fleet.sig("probe", tag="h2")]
    body = publish(fleet, chord(header, fleet.sig("probe", tag="body")))
    seen = [body.get(timeout=TIMEOUT)]
    seen += [fleet.result(child.id).get(timeout=TIMEOUT) for child in body.parent.results]
    return seen


def _link(fleet: Fleet) -> list[Any]:
    callback = fleet.sig("probe", tag="link")
    callback_id = callback.freeze().id
    publish(fleet, fleet.sig("probe", tag="linked"), link=callback)
    return [fleet.result(callback_id).get(timeout=TIMEOUT)]


def _errback_of(fleet: Fleet, failing: str) -> list[Any]:
    errback = fleet.sig("probe_errback")
    errback_id = errback.freeze().id
    publish(fleet, fleet.sig(failing), link_error=errback)
    return [fleet.result(errback_id).get(timeout=TIMEOUT)]


PARENT_PATHS: dict[str, Callable[[Fleet], list[Any]]] = {
    "direct": _direct,
    "countdown_eta": _countdown_and_eta,
    "retry_autoretry": _retry,
    "chain": _chain,
    "group": _group,
    "chord": _chord,
    "link": _link,
    "link_error": lambda fleet: _errback_of(fleet, "fail"),
    "link_error_after_hard_time_limit": lambda fleet: _errback_of(fleet, "hard_time_limit"),
    "link_error_after_lost_worker": lambda fleet: _errback_of(fleet, "lose_worker"),
}
PREFORK_ONLY = {"link_error_after_hard_time_limit", "link_error_after_lost_worker"}


@pytest.mark.parametrize("path", sorted(PARENT_PATHS))
def test_parent_published_path_runs_with_the_parents_envelope(fleet: Fleet, path: str):
    if path in PREFORK_ONLY and fleet.pool != "prefork":
        pytest.skip("hard time limits and lost children exist only in the prefork pool")
    seen = PARENT_PATHS[path](fleet)
    assert seen
    for observation in seen:
        assert_inherited(fleet, observation, depth=0, parent=None)


# Paths published from inside a task: children at depth 1 ---------------------------------------


@pytest.mark.parametrize(
    "how", ["delay", "apply_async", "send_task", "group", "chord", "thread_pool", "asyncio"]
)
def test_publish_from_inside_a_task_inherits_as_a_child(fleet: Fleet, how: str):
    outcome = publish(fleet, fleet.sig("publish_from_task", how)).get(timeout=TIMEOUT)
    publisher = outcome["self"]
    assert_inherited(fleet, publisher, depth=0, parent=None)
    seen = [fleet.result(task_id).get(timeout=TIMEOUT) for task_id in outcome["published"]]
    assert seen
    for observation in seen:
        assert_inherited(fleet, observation, depth=1, parent=publisher["task_id"])


@pytest.mark.parametrize("name", ["replace_with_signature", "replace_with_chain"])
def test_task_replace_runs_the_replacement_with_the_envelope(fleet: Fleet, name: str):
    job = publish(fleet, fleet.sig(name))
    seen = job.get(timeout=TIMEOUT)
    assert seen["tag"].startswith("replacement")
    assert_inherited(fleet, seen, depth=1, parent=job.id)
