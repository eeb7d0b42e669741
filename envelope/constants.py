"""Names both sides of the wire agree on.

The orchestrator enqueues by task name and the workers consume by queue name; neither imports the
other, so these strings are the whole of their contract besides the envelope itself.
"""

from __future__ import annotations

from typing import Final

#: The one message header that carries the signed envelope. Not ``headers``, ``id``, ``task``,
#: ``chain`` or ``stamps``: Celery gives those meanings of its own.
HEADER_KEY = "baton_envelope"

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
