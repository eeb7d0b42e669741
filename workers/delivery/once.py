"""At most one run per message for user tasks: a copy delivered again is dropped.

Subagent jobs have their guard (:mod:`.guard`). A user task on the Baton app, acknowledged early
as Celery's default, had none: a captured message pushed back onto its queue ran again every
time (a keyless broker writer can do that; the binding admits the very message it was made for).
Its first delivery now records the message (its task id, retry count and binding) in the result
backend's Redis, unless a mark is there already, and any later delivery of the same message
finds the mark and is dropped unrun, logged (``Ignore``: nothing stored over the first result).

The mark lives as long as the envelope can still be admitted (``exp`` plus the clock skew): a
copy that arrives later is refused as ``EnvelopeExpired`` anyway. A retry is a new message
(``retries`` + 1) and runs. A message acknowledged early is gone once it starts, so a worker
that dies in the middle loses it (Celery's at-most-once) and a mark never stops a delivery
that has not run; a message the ledger puts back was lost before it started. A user task
acknowledged late (``acks_late=True``) takes the subagents' guard instead: a copy of a job
whose success is stored returns that result, and a copy of a job still running waits.

One round trip per user task (one script call), the price measured in README's "Nothing lost,
nothing run twice". It cannot share another: before the body runs, a user task acknowledged
early makes no other call on the result backend (admission is in memory; the guard's claim is
for guarded and late-acknowledged tasks only), and the result store comes after the body, too
late to stop a copy. The store dropped Celery's read instead
(:class:`workers.delivery.backend.BatonRedisBackend`), so a user task makes two round trips on
the backend, as before the mark. The mark holds a random token of this delivery, so the call is
safe to send twice: the workers' backend client sends a command again over a dropped
connection, and a repeat that finds its own token is still the first delivery.
"""

from __future__ import annotations

import logging
import random
import time
from typing import Any

from celery.exceptions import Ignore

from envelope import BINDING_KEY, DEFAULT_CLOCK_SKEW_SECONDS, BedrockEnvelope
from fleet import run_script
from workers.delivery.backend import backend_redis
from workers.runtime import request_header

logger = logging.getLogger("baton.worker")

#: Where the first delivery of a user task's message is recorded.
ONCE_KEY_PREFIX = "baton:once:"

#: Mark the message with this delivery's token unless another delivery marked it: 1 when the
#: mark is (now) this delivery's, 0 when another one's.
_MARK = """
local holder = redis.call('get', KEYS[1])
if not holder then
  redis.call('set', KEYS[1], ARGV[1], 'EX', ARGV[2])
  return 1
end
return holder == ARGV[1] and 1 or 0
"""


def once_key(job_id: str, retries: int, binding: str | None) -> str:
    """The mark of one message: its job id, retry count and binding (a replacement keeps the
    job id of the task it replaces, but it is another task or other arguments, so another
    binding)."""
    return f"{ONCE_KEY_PREFIX}{job_id}:{retries}:{binding}"


def first_delivery(task: Any, envelope: BedrockEnvelope) -> None:
    """Record this delivery of the running message; raise ``Ignore`` when it was delivered
    before, so the copy does not run. Does nothing when results do not live in Redis."""
    client = backend_redis(task.app.backend)
    if client is None:
        return
    request = task.request
    ttl = max(int(envelope.exp + DEFAULT_CLOCK_SKEW_SECONDS - time.time()), 1)
    key = once_key(str(request.id), int(request.retries or 0), request_header(request, BINDING_KEY))
    if not run_script(client, _MARK, [key], [f"{random.getrandbits(128):032x}", ttl]):
        logger.warning(
            "job %s (%s) was delivered before; this copy is dropped unrun", request.id, task.name
        )
        raise Ignore()
