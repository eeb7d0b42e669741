"""Celery remote control is off unless a worker opts in: a keyless broadcast stops nothing.

Before, anyone who could write the broker stopped a worker with ``celery control shutdown``.
"""

from __future__ import annotations

import pytest
from celery import Celery

from tests.integration.harness import wait_until

pytestmark = pytest.mark.integration


@pytest.fixture()
def attacker(redis_urls):
    """A plain Celery app on the fleet's broker: no Baton, no key."""
    app = Celery("attacker", broker=redis_urls[0], set_as_current=False)
    yield app
    app.close()


def test_a_worker_ignores_a_keyless_shutdown_broadcast_by_default(start_worker, attacker):
    worker = start_worker(pool="solo", concurrency=1)
    assert attacker.control.ping(timeout=2) == []  # it answers no remote control at all
    attacker.control.shutdown()
    # The broadcast was sent; a worker that obeyed would log its warm shutdown and exit. The
    # ping above already waited 2 s for any control reply, and a second one proves the worker
    # still consumes its own broker connection without answering control messages.
    assert attacker.control.ping(timeout=2) == []
    assert worker.proc.popen.poll() is None, worker.proc.output()[-2000:]
    assert "shutdown" not in worker.proc.output().lower()


def test_a_worker_that_opts_in_answers_remote_control(start_worker, attacker):
    start_worker(pool="solo", concurrency=1, flags=["--remote-control"])
    # kombu's Redis transport subscribes to the control fanout on the worker's first poll, which
    # can come after "ready." is logged: a broadcast sent before that reaches nobody. So ask
    # until the worker answers, for at most 20 s.
    replies: list[dict[str, object]] = []

    def answered() -> bool:
        replies[:] = attacker.control.ping(timeout=1)
        return bool(replies)

    wait_until(answered, timeout=20)
    assert len(replies) == 1 and next(iter(replies[0].values())) == {"ok": "pong"}


def answers_ping(app: Celery) -> list[dict[str, object]]:
    """Ask until the worker answers (see above), for at most 20 s; return its replies."""
    replies: list[dict[str, object]] = []

    def answered() -> bool:
        replies[:] = app.control.ping(timeout=1)
        return bool(replies)

    wait_until(answered, timeout=20)
    return replies


def test_a_worker_answering_read_commands_pings_but_revokes_and_stops_nothing(
    start_emulator, make_orchestrator, start_worker, attacker
):
    from envelope import TASK_NAME

    bedrock = start_emulator("eu-west-1")
    orch = make_orchestrator({"AWS_REGION": "eu-west-1", "AWS_BEDROCK_ENDPOINT": bedrock.url})
    worker = start_worker(pool="solo", concurrency=1, flags=["--remote-control", "read"])
    assert [next(iter(reply.values())) for reply in answers_ping(attacker)] == [{"ok": "pong"}]
    with orch.propagating():  # held by the worker until its countdown: a revoke would drop it
        job = orch.app.send_task(TASK_NAME, kwargs={"prompt": "hello"}, countdown=2)

    for command in ("revoke", "shutdown"):
        replies = attacker.control.broadcast(
            command, arguments={"task_id": job.id}, reply=True, timeout=2
        )
        assert len(replies) == 1, replies
        assert next(iter(replies[0].values()))["error"].startswith(f"refused: '{command}'")

    assert job.get(timeout=60)["text"]
    assert [call["region"] for call in bedrock.calls()] == ["eu-west-1"]
    assert worker.proc.popen.poll() is None
    assert "remote control 'revoke' refused" in worker.proc.output()
