"""Extra tasks loaded into test workers with ``celery -A workers worker -I``.

They are registered on the Baton app, so the gate and the publish hooks apply to them exactly as
to ``baton.subagent``. Each probe returns what it saw, so a test can check that a task reached by
some Celery path ran with the parent's region, model and the expected lineage.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from celery import chain, chord, group

from envelope import TASK_NAME
from workers import app, bedrock_client, claude_code_env, current_envelope


class Transient(Exception):
    """Raised by a probe that must be retried once."""


def observe(tag: str, task_id: str | None) -> dict[str, Any]:
    envelope = current_envelope()
    return {
        "tag": tag,
        "task_id": task_id,
        "region": envelope.region,
        "model_id": envelope.model_id,
        "depth": envelope.lineage.depth,
        "parent_id": envelope.lineage.parent_id,
        "root_id": envelope.lineage.root_id,
        "pid": os.getpid(),
        "thread": threading.get_ident(),
    }


@app.task(name="baton.test.probe", bind=True)
def probe(self: Any, *args: Any, tag: str = "probe") -> dict[str, Any]:
    """Report the envelope this task ran with; positional args (a parent's result) are ignored."""
    return observe(tag, self.request.id)


@app.task(name="baton.test.probe_errback", bind=True)
def probe_errback(self: Any, failed_task_id: str) -> dict[str, Any]:
    """An old-style errback (one argument), so Celery publishes it as a message."""
    return observe(f"errback-of-{failed_task_id}", self.request.id)


@app.task(name="baton.test.fail", bind=True)
def fail(self: Any) -> None:
    raise RuntimeError("this task fails on purpose")


@app.task(name="baton.test.retry_once", bind=True)
def retry_once(self: Any) -> dict[str, Any]:
    if self.request.retries == 0:
        raise self.retry(countdown=0.1, max_retries=1)
    return observe("retried", self.request.id) | {"retries": self.request.retries}


@app.task(
    name="baton.test.autoretry_once",
    bind=True,
    autoretry_for=(Transient,),
    max_retries=1,
    retry_backoff=0.1,
    retry_jitter=True,
)
def autoretry_once(self: Any) -> dict[str, Any]:
    if self.request.retries == 0:
        raise Transient("first attempt fails")
    return observe("autoretried", self.request.id) | {"retries": self.request.retries}


@app.task(name="baton.test.hard_time_limit", time_limit=1)
def hard_time_limit() -> None:
    """Outlive the hard limit so the main process kills the child and publishes the errback."""
    time.sleep(10)


@app.task(name="baton.test.lose_worker")
def lose_worker() -> None:
    """Kill the pool child: the main process reports WorkerLostError and publishes the errback."""
    os._exit(1)


@app.task(name="baton.test.lose_worker_after")
def lose_worker_after(seconds: float) -> None:
    """Run ``seconds``, then kill the pool child, so the main process fails the job then."""
    time.sleep(seconds)
    os._exit(1)


@app.task(name="baton.test.replace_with_signature", bind=True)
def replace_with_signature(self: Any) -> Any:
    raise self.replace(probe.si(tag="replacement"))


@app.task(name="baton.test.replace_with_chain", bind=True)
def replace_with_chain(self: Any) -> Any:
    raise self.replace(chain(probe.si(tag="replacement-1"), probe.si(tag="replacement-2")))


@app.task(name="baton.test.replace_with_group", bind=True)
def replace_with_group(self: Any) -> Any:
    """Celery publishes ``celery.accumulate`` as the group's chord body, as this job."""
    raise self.replace(group(probe.si(tag="member-1"), probe.si(tag="member-2")))


def _in_threads() -> list[str]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(probe.delay, tag=f"thread-{i}") for i in range(2)]
        return [future.result().id for future in futures]


def _in_asyncio() -> list[str]:
    async def publish() -> str:
        return str(probe.delay(tag="asyncio").id)

    return [asyncio.run(publish())]


#: Ways to publish probes from inside a task; each returns the ids to wait for.
PUBLISHERS: dict[str, Callable[[], list[str]]] = {
    "delay": lambda: [probe.delay(tag="delay").id],
    "apply_async": lambda: [probe.apply_async(kwargs={"tag": "apply_async"}, countdown=0.1).id],
    "send_task": lambda: [app.send_task("baton.test.probe", kwargs={"tag": "send_task"}).id],
    "group": lambda: [r.id for r in group(probe.si(tag="g1"), probe.si(tag="g2")).delay().results],
    "chord": lambda: [
        chord([probe.si(tag="c1"), probe.si(tag="c2")], probe.s(tag="chord-body")).delay().id
    ],
    "thread_pool": _in_threads,
    "asyncio": _in_asyncio,
}


@app.task(name="baton.test.publish_from_task", bind=True)
def publish_from_task(self: Any, how: str) -> dict[str, Any]:
    return {"published": PUBLISHERS[how](), "self": observe("publisher", self.request.id)}


@app.task(name="baton.test.spawn_child", bind=True)
def spawn_child(self: Any, prompt: str) -> dict[str, Any]:
    """Start one subagent from inside a task with a plain send_task: no headers passed."""
    child = app.send_task(TASK_NAME, kwargs={"prompt": prompt})
    envelope = current_envelope()
    return {"job_id": self.request.id, "child_id": child.id, "depth": envelope.lineage.depth}


@app.task(name="baton.test.cache_stats")
def cache_stats() -> dict[str, Any]:
    """Report this process's client cache, after touching the client for the current envelope."""
    client = bedrock_client()
    cache = app.baton_runtime.clients
    return {
        "pid": os.getpid(),
        "builds": cache.builds,
        "size": len(cache),
        "region": client.meta.region_name,
        "endpoint": client.meta.endpoint_url,
        "signature_version": client.meta.config.signature_version,
    }


@app.task(name="baton.test.subprocess_env")
def subprocess_env() -> dict[str, list[str]]:
    """What ``claude_code_env()`` hands a subprocess: its names, and those whose value is one of
    the worker's ``BATON_*`` settings in any case (issue 24, finding 5). No value is returned."""
    env = claude_code_env()
    fleet = {value for name, value in os.environ.items() if name.upper().startswith("BATON_")}
    return {"names": sorted(env), "fleet_values": sorted(n for n, v in env.items() if v in fleet)}


@app.task(name="baton.test.charge", bind=True)
def charge(self: Any, *results: Any, tag: str = "charge") -> dict[str, Any]:
    """Make one Converse call (a side effect the emulator's journal counts); return what it saw,
    with any results it was given (a chord callback's)."""
    envelope = current_envelope()
    bedrock_client().converse(
        modelId=envelope.model_id, messages=[{"role": "user", "content": [{"text": tag}]}]
    )
    return {**observe(tag, self.request.id), "results": list(results)}
