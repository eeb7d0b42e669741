"""asyncio in greenlets: each greenlet's event loop, and its async generators, stay its own."""

from __future__ import annotations

import subprocess
import sys

import pytest

from workers.green_loops import keep_running_loops_per_greenlet

pytest.importorskip("gevent")

#: Twenty greenlets each run an event loop of their own (as Strands' ``asyncio.run`` and Pydantic
#: AI's ``run_until_complete`` do). Half iterate an async generator for 60 ms; the others end
#: meanwhile, and ``asyncio.run`` closes their loop's async generators as it ends, which must not
#: include another greenlet's. Prints how many returned their own answer.
SCRIPT = """
from gevent import monkey; monkey.patch_all()
import asyncio, sys, gevent
from workers.green_loops import keep_running_loops_per_greenlet
if sys.argv[1] == "hooked":
    import greenlet
    assert keep_running_loops_per_greenlet()
    tracer = greenlet.gettrace()
    assert keep_running_loops_per_greenlet() and greenlet.gettrace() is tracer  # installed once

async def ticks():
    for tick in range(3):
        yield tick

async def job(index):
    if index % 2:  # short: its asyncio.run closes its loop's async generators as it ends
        await asyncio.sleep(0.03)
        return index
    await asyncio.sleep(0.01)  # start the generator while the short loops run
    seen = []
    async for tick in ticks():
        seen.append(tick)
        await asyncio.sleep(0.02)  # the generator waits at its yield meanwhile
    assert seen == [0, 1, 2], seen
    return index

def run(index):
    if index % 4:
        return asyncio.run(job(index))
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(job(index))
    finally:
        loop.close()

greenlets = [gevent.spawn(run, index) for index in range(20)]
gevent.joinall(greenlets, timeout=30)
print(sum(g.successful() and g.value == index for index, g in enumerate(greenlets)))
"""


def run_script(mode: str) -> int:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, timeout=60, check=True
    )
    return int(result.stdout.split()[-1])


def test_outside_a_patched_process_nothing_is_installed():
    assert keep_running_loops_per_greenlet() is False


@pytest.mark.integration  # a child process
def test_each_greenlet_runs_its_own_event_loop_to_the_end_with_the_hook():
    assert run_script("hooked") == 20


@pytest.mark.integration  # a child process
def test_without_the_hook_greenlets_running_event_loops_collide():
    assert run_script("plain") < 20
