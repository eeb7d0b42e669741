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
