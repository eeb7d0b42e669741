"""A gevent worker paused and resumed by remote control: at once, and then at full width.

Remote control (``--remote-control``) lets an operator pause a queue and resume it, from Flower
or ``celery control cancel_consumer`` / ``add_consumer``. A Celery gevent worker has no event
loop, and two waits of up to 2 s (Celery's loop drains the broker with ``timeout=2.0``) slowed
it down:

- Remote control queues ``add_consumer`` and ``cancel_consumer`` for the consumer's loop to run,
  which it did only after a message or the 2 s were up; a paused worker receives no message,
  so a resume took effect 0 to 2 s late, and a pause too.
- Once the prefetch window was full, the consumer waited in ``poll`` for the credit an
  acknowledgement had already given back: every wave of ``c`` jobs came 2 s after the last,
  about ten jobs a second at c20 and 0.5 s a call, whether the worker had just started or had
  just been resumed.

Baton's consumer ends the wait when it queues a callback, and its poller is woken by every
acknowledgement (:mod:`workers.green`). What the worker consumes is read from the worker itself
(``inspect active_queues``), and when each call was answered from the emulator.
"""

from __future__ import annotations

import itertools
import time
from statistics import mean

import pytest
from celery import Celery

from tests.conftest import clean_env
from tests.integration.harness import QUEUE, REGION, figures, settle, wait_until

pytestmark = pytest.mark.integration

CONCURRENCY = 10
#: Pauses and resumes timed: each took effect 0 to 2 s late, 1 s on average, before the fix.
CYCLES = 6
#: The longest average delay allowed between a command's answer and its effect, in seconds: a
#: few control round trips of slack for a loaded machine, well under the 1 s it averaged.
PROMPT = 0.4
#: Jobs beyond one a slot: each wave waited 2 s for credit before the wake.
WAVES = 4
#: The emulator's latency, in seconds: short beside the 2 s wait.
LATENCY = 0.1
#: The longest silence allowed between two answers at the emulator, in seconds: ten calls'
#: latency of slack for a loaded machine, half the credit wait it guards against.
LONGEST_SILENCE = 1.0


@pytest.fixture()
def control(redis_urls):
    """A plain Celery app on the worker's broker, as Flower or ``celery control`` would be."""
    app = Celery("operator", broker=redis_urls[0], set_as_current=False)
    yield app.control
    app.close()


@pytest.fixture()
def node(start_worker, control) -> str:
    """A gevent worker that answers remote control; its node name, once it answers."""
    start_worker(pool="gevent", concurrency=CONCURRENCY, flags=["--remote-control"])
    # The worker subscribes to the control fanout at its first poll, which can come after it
    # logs "ready.": a broadcast sent before then reaches nobody.
    replies: list[dict[str, object]] = []

    def answered() -> bool:
        replies[:] = control.ping(timeout=1)
        return bool(replies)

    wait_until(answered, timeout=20)
    return next(iter(replies[0]))


def broadcast(control, node: str, command: str) -> None:
    """Send ``command`` for the worker's queue and wait for the worker's answer."""
    replies = getattr(control, command)(QUEUE, destination=[node], reply=True, timeout=10)
    assert len(replies) == 1, f"{command}: {replies}"
    assert "ok" in replies[0][node], f"{command}: {replies}"


def consuming(control, node: str) -> bool:
    """Whether the worker consumes its queue right now, as it says itself."""
    replies = control.inspect(destination=[node], timeout=5, limit=1).active_queues() or {}
    return any(queue["name"] == QUEUE for queue in replies.get(node, []))


def delay(control, node: str, command: str, *, consuming_after: bool) -> float:
    """Seconds from ``command``'s answer until the worker's queues show its effect."""
    broadcast(control, node, command)
    answered = time.monotonic()
    wait_until(lambda: consuming(control, node) is consuming_after, timeout=10, poll=0.01)
    return time.monotonic() - answered


def test_a_pause_and_a_resume_by_remote_control_take_effect_at_once_on_gevent(node, control):
    pauses, resumes = [], []
    for _ in range(CYCLES):
        pauses.append(delay(control, node, "cancel_consumer", consuming_after=False))
        resumes.append(delay(control, node, "add_consumer", consuming_after=True))

    figures(
        "gevent pause and resume, seconds to take effect",
        pauses=[round(seconds, 3) for seconds in pauses],
        resumes=[round(seconds, 3) for seconds in resumes],
    )
    assert mean(pauses) < PROMPT
    assert mean(resumes) < PROMPT


def test_a_gevent_worker_resumed_by_remote_control_takes_each_message_as_a_slot_frees(
    node, control, start_emulator, make_orchestrator
):
    bedrock = start_emulator(REGION, latency=LATENCY)
    orch = make_orchestrator(clean_env(AWS_REGION=REGION, AWS_BEDROCK_ENDPOINT=bedrock.url))

    broadcast(control, node, "cancel_consumer")
    jobs = [orch.spawn(f"queued while paused {index}").id for index in range(CONCURRENCY * WAVES)]
    broadcast(control, node, "add_consumer")
    outcome = settle(orch.app, jobs, timeout=60)

    assert outcome.lost == []
    answered = sorted(call["at"] for call in bedrock.calls("Converse"))
    assert len(answered) == len(jobs), "one call a job, none repeated"
    silences = [later - earlier for earlier, later in itertools.pairwise(answered)]
    figures(
        "gevent resumed by remote control",
        jobs=len(jobs),
        concurrency=CONCURRENCY,
        latency_s=LATENCY,
        drain_s=round(answered[-1] - answered[0], 2),
        longest_silence_s=round(max(silences), 3),
    )
    assert max(silences) < LONGEST_SILENCE
