"""Per-greenlet state: each greenlet sees its own job, and kombu waits on gevent's poll."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.factories import make_envelope
from workers.context import Job, bind, current_job, unbind
from workers.green import GreenPoll, green_poller, patched

gevent = pytest.importorskip("gevent")


def test_each_greenlet_sees_only_the_job_it_bound_while_they_interleave():
    envelopes = {
        region: make_envelope(region=region, model_id=model)
        for region, model in (
            ("eu-west-1", "eu.anthropic.claude-sonnet-4-20250514-v1:0"),
            ("ap-southeast-2", "au.anthropic.claude-sonnet-4-5-20250929-v1:0"),
        )
    }
    seen: list[tuple[str, str | None]] = []

    def job(index: int) -> None:
        region = list(envelopes)[index % 2]
        token = bind(Job(envelope=envelopes[region], task_id=f"job-{index}", runtime=None))  # type: ignore[arg-type]
        try:
            for _ in range(3):
                gevent.sleep(0)  # every other greenlet runs, and binds its own job, meanwhile
                found = current_job()
                seen.append((region, found.envelope.region if found else None))
        finally:
            unbind(token)

    gevent.joinall([gevent.spawn(job, index) for index in range(200)], raise_error=True)

    assert len(seen) == 600
    assert all(region == found for region, found in seen)


def test_a_greenlet_spawned_while_a_job_runs_does_not_inherit_it_by_accident():
    envelope = make_envelope()
    token = bind(Job(envelope=envelope, task_id="parent", runtime=None))  # type: ignore[arg-type]
    try:
        assert gevent.spawn(current_job).get(timeout=5) is None
    finally:
        unbind(token)


def test_no_green_poller_in_a_process_gevent_has_not_patched():
    assert not patched()
    assert green_poller() is None


@pytest.mark.integration  # a child process
def test_in_a_patched_process_the_poller_is_gevents_cooperative_poll_and_works():
    script = (
        "from gevent import monkey; monkey.patch_all()\n"
        "import socket\n"
        "from workers.green import green_poller\n"
        "from kombu.utils.eventio import READ\n"
        "poller = green_poller()\n"
        "a, b = socket.socketpair()\n"
        "poller.register(a, READ)\n"
        "b.send(b'x')\n"
        "print(type(poller).__name__, poller.poll(1.0) == [(a.fileno(), READ)])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=True
    )
    assert result.stdout.split() == [GreenPoll.__name__, "True"]


@pytest.mark.integration  # a child process
def test_an_acknowledgement_wakes_a_consumer_waiting_for_credit():
    # A wait of 60 s that a greenlet's wake() ends: the woken poll returns no events (kombu's
    # consumer then looks at its channels again), and a poll after it waits normally.
    script = (
        "from gevent import monkey; monkey.patch_all()\n"
        "import gevent, time\n"
        "from workers.green import green_poller\n"
        "poller = green_poller()\n"
        "gevent.spawn_later(0.1, poller.wake)\n"
        "started = time.monotonic()\n"
        "woken = poller.poll(60.0)\n"
        "print(woken, time.monotonic() - started < 30, poller.poll(0.01))\n"
        "poller.close()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split() == ["[]", "True", "[]"]


@pytest.mark.integration  # a child process
def test_an_interrupt_ends_the_wait_as_its_timeout_would_and_only_once():
    # Celery's loop runs queued callbacks (remote control's pause and resume) only once kombu's
    # drain_events ends; an interrupted wait raises socket.timeout, which ends it as its own
    # timeout does. A plain wake does not, and the next wait after an interrupt waits normally.
    script = (
        "from gevent import monkey; monkey.patch_all()\n"
        "import gevent, socket, time\n"
        "from workers.green import green_poller\n"
        "poller = green_poller()\n"
        "gevent.spawn_later(0.1, poller.interrupt)\n"
        "started = time.monotonic()\n"
        "try:\n"
        "    poller.poll(60.0)\n"
        "    ended = 'returned'\n"
        "except socket.timeout:\n"
        "    ended = 'timeout'\n"
        "gevent.spawn_later(0.1, poller.wake)\n"
        "print(ended, time.monotonic() - started < 30, poller.poll(60.0), poller.poll(0.01))\n"
        "poller.close()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split() == ["timeout", "True", "[]", "[]"]
