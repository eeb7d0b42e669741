"""What the fault tests share: a parent in the test region, a batch of jobs, and their figures."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from tests.integration.harness import REGION, figures

#: The number of jobs in a fault run: enough that every fault lands while jobs are in flight.
JOBS = 200
#: Short enough that a crashed worker's jobs come back within seconds.
FAST_REDELIVERY = {"BATON_VISIBILITY_TIMEOUT": "3", "BATON_JOB_LOCK_TTL": "3"}

#: What a worker logs when it puts a job back on its queue (``workers.delivery.recovery``).
PUT_BACK = "put back on its queue"


def put_back(*workers: Any) -> Counter:
    """How many jobs the workers put back, by reason (worker lost, lost in transit)."""
    return Counter(
        line.rsplit("(", 1)[1].rstrip(")").replace(" ", "_")
        for worker in workers
        for line in worker.proc.lines
        if PUT_BACK in line
    )


def parent(make_orchestrator: Any, url: str) -> Any:
    """An orchestrator in the test region, calling the emulator at ``url``."""
    return make_orchestrator({"AWS_REGION": REGION, "AWS_BEDROCK_ENDPOINT": url})


def spawn(orch: Any, count: int, prompt: str = "job {i}") -> list[str]:
    """Spawn ``count`` jobs; return their IDs."""
    return [orch.spawn(prompt.format(i=i)).id for i in range(count)]


def lost_where(outcome: Any, received: Iterable[str]) -> tuple[list[str], list[str]]:
    """Split the run's lost jobs: those a worker received (Baton's), and those none ever did."""
    given = set(received)
    return (
        [job for job in outcome.lost if job in given],
        [job for job in outcome.lost if job not in given],
    )


def one_result_each(outcome: Any, *, leaving_out: Iterable[str] = ()) -> bool:
    """Whether every job's stored result is its own (but those ``leaving_out``: never received)."""
    skipped = set(leaving_out)
    return all(
        outcome.results[job] and outcome.results[job].get("job_id") == job
        for job in outcome.states
        if job not in skipped
    )


def report(
    title: str,
    outcome: Any,
    bedrock: Any,
    *,
    deliveries: Counter,
    calls_per_job: int = 1,
    **extra: object,
) -> int:
    """Print the run's figures; return how many Bedrock calls were duplicates.

    ``calls_per_job`` is how many answered calls one finished job stands for (a whole tree's).
    """
    converse = bedrock.calls("Converse")
    succeeded = sum(call["status"] == 200 for call in converse)
    done = sum(state == "SUCCESS" for state in outcome.states.values())
    duplicated = succeeded - done * calls_per_job
    figures(
        title,
        jobs=len(outcome.states),
        lost=len(outcome.lost),
        duplicated_bedrock_calls=duplicated,
        redelivered_jobs=sum(count > 1 for count in deliveries.values()),
        deliveries=sum(deliveries.values()),
        throttled_429=sum(call["status"] == 429 for call in converse),
        **extra,
    )
    return duplicated
