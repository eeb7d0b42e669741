"""A keyless broker writer cannot revoke a queued job by answering a starting worker's "hello",
nor make workers answer, and remember, election requests.

Celery's workers "mingle" at start and after every consumer restart: a worker broadcasts
``hello`` on the control exchange and adds to its own revoked set every id any reply lists, with
remote control on or off. Anyone who writes the broker can answer (a kombu mailbox node of its
own), so before Baton turned mingle off its reply revoked any job it named: the job's message
arrived, was found in the revoked set, and REVOKED was stored as its result.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import pytest
from celery import Celery

from tests.integration.harness import wait_until

pytestmark = pytest.mark.integration

REGION = "eu-west-1"
TIMEOUT = 60


@pytest.fixture()
def rogue_node(redis_urls) -> Iterator[tuple[list[str], list[str]]]:
    """A mailbox node on the fleet's broker, no key, that answers every ``hello`` with the ids
    in its first list, and records who asked in its second."""
    app = Celery("attacker", broker=redis_urls[0], set_as_current=False)
    revoke: list[str] = []
    asked: list[str] = []

    def hello(state: object, from_node: str, revoked: object = None, **_: object) -> object:
        asked.append(from_node)
        return {"revoked": list(revoke), "clock": 1}

    stop = threading.Event()

    def serve() -> None:
        with app.connection_for_write() as connection:
            mailbox = app.control.mailbox(connection)
            node = mailbox.Node("rogue@attacker", handlers={"hello": hello})
            node.listen(channel=connection.channel())
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    connection.drain_events(timeout=0.2)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield revoke, asked
    stop.set()
    thread.join(timeout=5)
    app.close()


def test_a_rogue_hello_reply_revokes_no_queued_job(
    rogue_node, start_emulator, make_orchestrator, start_worker
):
    revoke, asked = rogue_node
    bedrock = start_emulator(REGION)
    orch = make_orchestrator({"AWS_REGION": REGION, "AWS_BEDROCK_ENDPOINT": bedrock.url})
    with orch.propagating():
        victim = orch.app.send_task("baton.test.probe", kwargs={"tag": "real"})
    revoke.append(victim.id)

    options = {"pool": "solo", "concurrency": 1, "include": "tests.integration.worker_tasks"}
    worker = start_worker(REGION, **options)

    assert victim.get(timeout=TIMEOUT)["tag"] == "real"
    assert "mingle" not in worker.proc.output()
    assert asked == []  # no worker asked the rogue node for its revoked ids


def test_a_rogue_election_request_is_not_answered(redis_urls, start_worker):
    """Celery's gossip answered every ``worker-elect`` event on the broker with an ack of its own
    and kept each request in memory, with no bound: a keyless sender made every worker grow
    and talk. Baton's workers do not gossip. The worker's own heartbeats, every 2 s on the same
    event exchange, show that this receiver hears it before and after the requests."""
    app = Celery("attacker", broker=redis_urls[0], set_as_current=False)
    worker = start_worker(REGION, pool="solo", concurrency=1)
    seen: list[str] = []

    def heartbeats() -> int:
        return seen.count("worker-heartbeat")

    with app.connection_for_read() as connection:
        receiver = app.events.Receiver(
            connection,
            handlers={
                kind: lambda e: seen.append(e["type"])
                for kind in ("worker-elect-ack", "worker-heartbeat")
            },
        )
        listening = threading.Thread(target=receiver.capture, kwargs={"limit": None}, daemon=True)
        listening.start()
        try:
            wait_until(lambda: heartbeats() >= 1, timeout=20)  # subscribed
            with app.events.default_dispatcher(hostname="rogue@attacker") as dispatcher:
                for i in range(3):
                    dispatcher.send(
                        "worker-elect", id=f"rogue-{i}", topic="task", action=None, cver=1
                    )
            after = heartbeats()
            wait_until(lambda: heartbeats() >= after + 2, timeout=20)
        finally:
            receiver.should_stop = True
            listening.join(timeout=5)
            app.close()
    assert "worker-elect-ack" not in seen, seen
    assert worker.proc.popen.poll() is None
