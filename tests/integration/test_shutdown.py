"""A worker that has run jobs stops cleanly on SIGTERM, in every pool: Celery's warm shutdown,
exit status 0, no traceback. Real Redis, real workers, a real emulator.

The worker fixture kills its workers at teardown (``Proc.kill``), so the warm shutdown is checked
here, and after dropped connections in ``test_dropped_connections.py``; a worker that hangs in it
is killed after ``STOP_TIMEOUT`` and exits -9.
"""

from __future__ import annotations

import pytest

from tests.integration.faults import parent, spawn
from tests.integration.harness import REGION

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("pool", ["threads", "prefork", "gevent", "solo"])
def test_a_worker_that_ran_jobs_stops_cleanly_on_sigterm(
    pool, emulator_proc, start_worker, make_orchestrator
):
    emulator = emulator_proc(REGION, latency=0.05)
    worker = start_worker(pool=pool, concurrency=1 if pool == "solo" else 2)
    orch = parent(make_orchestrator, emulator.url)
    results = orch.gather([orch.app.AsyncResult(job) for job in spawn(orch, 4)], timeout=30)
    assert {result["stop_reason"] for result in results} == {"end_turn"}

    ran = len(worker.proc.lines)
    code = worker.proc.stop()

    after = worker.proc.lines[ran:]
    assert code == 0, "\n".join(after[-40:])
    assert any("Warm shutdown" in line for line in after)
    assert not any("Traceback" in line for line in after), "\n".join(after)
