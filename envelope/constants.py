"""Names both sides of the wire agree on.

The orchestrator enqueues by task name and the workers consume by queue name; neither imports the
other, so these strings are the whole of their contract besides the envelope itself.
"""

from __future__ import annotations

from typing import Final

#: The one message header that carries the signed envelope. Not ``headers``, ``id``, ``task``,
#: ``chain`` or ``stamps``: Celery gives those meanings of its own.
HEADER_KEY = "baton_envelope"

#: The response header with which Baton's local emulator answers a 403 AccessDeniedException:
#: the regions its ``--allow-region`` list allows (comma-separated, or ``none``), so a worker or
#: ``baton doctor`` can name the emulator's fix instead of an IAM policy.
EMULATOR_REGIONS_HEADER = "x-baton-emulator-allowed-regions"

#: The Celery task name of a subagent job.
TASK_NAME = "baton.subagent"

#: Every subagent queue is ``baton.<region>``: routing follows the envelope, not the worker.
QUEUE_PREFIX = "baton."

#: The schema version this package writes and reads.
ENVELOPE_VERSION: Final = 1


def queue_for(region: str) -> str:
    """Return the queue that serves jobs whose envelope names ``region``."""
    return f"{QUEUE_PREFIX}{region}"


#: Redis list (in the result backend) of the top-level jobs a parent spawned under one root, and
#: of the children a job started: what ``baton status`` walks to draw a tree still in flight.
ROOT_JOBS_KEY_PREFIX = "baton:root:"
CHILD_JOBS_KEY_PREFIX = "baton:children:"


def root_jobs_key(root_id: str) -> str:
    """Return the result-backend key listing the top-level jobs of ``root_id``."""
    return f"{ROOT_JOBS_KEY_PREFIX}{root_id}"


def child_jobs_key(job_id: str) -> str:
    """Return the result-backend key listing the children ``job_id`` started."""
    return f"{CHILD_JOBS_KEY_PREFIX}{job_id}"


#: Redis key (in the result backend) of a job's lock: it exists while a worker runs the job.
JOB_LOCK_KEY_PREFIX = "baton:lock:"


def job_lock_key(job_id: str) -> str:
    """Return the result-backend key a worker holds while it runs ``job_id``."""
    return f"{JOB_LOCK_KEY_PREFIX}{job_id}"


#: Result-backend keys that say a job's message was lost and put back, and why.
RECOVERED_KEY_PREFIX = "baton:recovered:"


def recovered_key(job_id: str) -> str:
    """Return the result-backend key a worker sets when it puts ``job_id``'s lost message back."""
    return f"{RECOVERED_KEY_PREFIX}{job_id}"


#: The most a parent may set ``BATON_MAX_DEPTH`` to. Eight levels of subagents starting
#: subagents is a runaway recursion rather than a plan (the default is 3), and every level below
#: a waiting parent holds one more chord in the result backend.
MAX_DEPTH = 8

#: The most a parent may set ``BATON_MAX_CHILDREN`` to: children one job starts, each a chord
#: member and a concurrent Bedrock conversation. A model asks for a handful of Task calls a turn;
#: a fan-out wider than 32 belongs in several turns or several roots.
MAX_CHILDREN = 32

#: The most a parent may set ``BATON_MAX_TURNS`` to. Each turn may run up to the hard time limit
#: (900 s), so 64 turns is already a job of hours; a longer conversation outgrows its context.
MAX_TURNS = 64

#: The most a parent may set ``BATON_MAX_JOBS`` to: jobs per tree (one explicit spawn and the
#: model's jobs under it), counted in Redis.
#: 10,000 Bedrock conversations from one command is a bill an operator should decide on twice.
MAX_JOBS = 10_000

#: The shortest ``BATON_ENVELOPE_TTL``: a job must be able to wait in a queue at all. The
#: clock-skew allowance comes on top.
MIN_ENVELOPE_TTL_SECONDS = 10

#: The longest ``BATON_ENVELOPE_TTL``. An envelope is a bearer pass for its tree: whoever copies
#: one off the broker can present it until it expires. A day covers a deep tree's chord callbacks
#: (a resume's envelope is minted at hand-off and must outlive the subtree), and a leaked token
#: is dead the same day.
MAX_ENVELOPE_TTL_SECONDS = 24 * 3600
