"""A user's parent program: it imports tasks defined on ``workers.app`` and publishes them the
ordinary way, ``task.delay()`` and canvases inside ``Orchestrator.propagating()``.

Run as ``python -m tests.integration.user_parent PATH...`` with the fleet's ``BATON_*`` variables
and ``AWS_REGION``; prints one JSON object: each path's observations (what each task saw) or its
error, and what a publish outside any propagating block raised. A subprocess, so that
``workers.app`` is built from the environment exactly as in a user's program.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable
from typing import Any

from celery import chain, chord, group

from orchestrator import Orchestrator
from tests.integration import worker_tasks as tasks

TIMEOUT = 60


def _get(results: list[Any]) -> list[Any]:
    return [result.get(timeout=TIMEOUT) for result in results]


def _errback_of(failing: Any) -> list[Any]:
    errback = tasks.probe_errback.s()
    errback_id = errback.freeze().id
    failing.apply_async(link_error=errback)
    return [tasks.app.AsyncResult(errback_id).get(timeout=TIMEOUT)]


def _link() -> list[Any]:
    callback = tasks.probe.s(tag="link")
    callback_id = callback.freeze().id
    tasks.probe.apply_async(kwargs={"tag": "linked"}, link=callback)
    return [tasks.app.AsyncResult(callback_id).get(timeout=TIMEOUT)]


def _chord() -> list[Any]:
    body = chord([tasks.probe.s(tag="h1"), tasks.probe.s(tag="h2")])(tasks.probe.s(tag="body"))
    return [body.get(timeout=TIMEOUT), *_get(list(body.parent.results))]


def _chain() -> list[Any]:
    last = chain(tasks.probe.s(tag="c1"), tasks.probe.s(tag="c2")).delay()
    return _get([last, last.parent])


def _countdown_eta() -> list[Any]:
    eta = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=0.3)
    return _get([tasks.probe.apply_async(countdown=0.3), tasks.probe.apply_async(eta=eta)])


def _replace() -> list[Any]:
    job = tasks.replace_with_chain.delay()
    return [job.get(timeout=TIMEOUT) | {"expect_depth": 1, "expect_parent": job.id}]


def _from_inside_a_task() -> list[Any]:
    outcome = tasks.publish_from_task.delay("delay").get(timeout=TIMEOUT)
    publisher = outcome["self"]
    children = [
        tasks.app.AsyncResult(task_id).get(timeout=TIMEOUT) for task_id in outcome["published"]
    ]
    child = {"expect_depth": 1, "expect_parent": publisher["task_id"]}
    return [publisher, *(seen | child for seen in children)]


PATHS: dict[str, Callable[[], list[Any]]] = {
    "direct": lambda: _get([tasks.probe.delay(tag="direct")]),
    "countdown_eta": _countdown_eta,
    "retry_autoretry": lambda: _get([tasks.retry_once.delay(), tasks.autoretry_once.delay()]),
    "chain": _chain,
    "group": lambda: group(tasks.probe.s(tag="g1"), tasks.probe.s(tag="g2")).delay().get(TIMEOUT),
    "chord": _chord,
    "link": _link,
    "link_error": lambda: _errback_of(tasks.fail.s()),
    "link_error_after_hard_time_limit": lambda: _errback_of(tasks.hard_time_limit.s()),
    "link_error_after_lost_worker": lambda: _errback_of(tasks.lose_worker.s()),
    "replace": _replace,
    "from_inside_a_task": _from_inside_a_task,
}


def _outside_any_block() -> str:
    """Publish with no envelope anywhere: it must fail here, at publish."""
    try:
        tasks.probe.delay(tag="orphan")
    except Exception as exc:  # the test reads which type and message this was
        return f"{type(exc).__name__}: {exc}"
    return "published"


def main(paths: list[str]) -> None:
    out: dict[str, Any] = {"outside": _outside_any_block(), "paths": {}}
    with Orchestrator.from_env() as orch:
        out["parent"] = {"root_id": orch.root_id, "region": orch.envelope.region}
        out["parent"]["model_id"] = orch.envelope.model_id
        for path in paths:
            try:
                with orch.propagating():
                    out["paths"][path] = PATHS[path]()
            except Exception as exc:  # reported to the test, which names the path that failed
                out["paths"][path] = {"error": f"{type(exc).__name__}: {exc}"}
    json.dump(out, sys.stdout, default=str)


if __name__ == "__main__":
    main(sys.argv[1:] or sorted(PATHS))
