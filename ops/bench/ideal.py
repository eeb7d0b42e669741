"""The quota's ideal: how soon the fleet could finish if Bedrock's counting were the only limit.

Usage::

    from ideal import ideal_seconds, subagent_call
    reserved, used = subagent_call(prompt="quota configured job 0", model_id=..., region=...)
    seconds = ideal_seconds(jobs=400, quota=QuotaSettings(tokens_per_minute=11_000),
                            reserved=reserved, used=used, latency=1.0, slots=100)

Under a requests quota of 10 a second the ideal is 400 / 10 = 40 s. Under a tokens quota it is
no fixed rate. Bedrock reserves a call's input plus ``maxTokens`` at admission and settles it to
what it used when the call ends; a call is admitted only while the bucket's level holds its
whole reservation. So two bounds meet:

- the calls in flight at once are at most the reservations that fit in the level: with the
  bench's figures (a bucket of 11,000; 1,041 reserved a call), 10 at first;
- the level drifts by the refill (the quota / 60: 183 a second) less what settled calls used
  (22 a call): 10 calls a second use 220, so the level falls by 37 a second, and after about
  16 s only 9 reservations fit, later 8. In the long run the refill sustains 183 / 22 = 8.3
  calls a second.

The 400 calls then need 43.0 s, not the 40 s a 10-a-second rate would: the bench's first ideal
(40 s) was out of reach under Bedrock's own counting. Since the number of reservations that fit
changes during the run, there is no tidy closed form: the ideal replays the emulator's own
counting (:class:`emulator.quotas.QuotaBook`) on a simulated clock. Every free slot starts a
call the moment the quota admits it, and each holds its reservation for the latency, then
settles to what it used. Nothing waits for a poll, a worker or the network, so no real fleet
can beat it.
"""

from __future__ import annotations

import heapq
import json
from typing import Any

from emulator.errors import Throttling
from emulator.quotas import QuotaBook, QuotaSettings, reserved_tokens, used_tokens
from emulator.runtime import Invocation, answer_converse
from workers.agents import BUILTIN_AGENTS, DEFAULT_AGENT
from workers.conversation import TASK_TOOL_SPEC, converse, user_text

#: The simulated clock's step: a millisecond, well below the 1 s a call holds its reservation.
STEP = 0.001


class _Captured(Exception):
    """Raised by the capturing client with the request the worker would have sent."""

    def __init__(self, request: dict[str, Any]) -> None:
        super().__init__("captured")
        self.request = request


class _CapturingClient:
    def converse(self, **request: Any) -> None:
        raise _Captured(request)


def subagent_call(*, prompt: str, model_id: str, region: str) -> tuple[int, float]:
    """Return what a bench subagent's Converse call reserves and uses, counted by the emulator.

    The body is the one the worker sends (``workers.conversation.converse`` with the default
    agent's system prompt and the Task tool), captured before it leaves; the emulator counts
    its reservation and answers it, and its ``usage`` is what the call settles to.
    """
    system = BUILTIN_AGENTS[DEFAULT_AGENT].system_prompt
    try:
        converse(
            _CapturingClient(),  # type: ignore[arg-type]
            model_id=model_id,
            messages=[user_text(prompt)],
            system=system,
            tools=[TASK_TOOL_SPEC],
        )
    except _Captured as captured:
        request = {key: value for key, value in captured.request.items() if key != "modelId"}
    body = json.dumps(request).encode()
    settings = QuotaSettings()
    reserved = reserved_tokens(body, max_output_tokens=settings.max_output_tokens)
    answer = answer_converse(Invocation(model_id, region, body))
    return reserved, used_tokens(answer.usage(), burndown=settings.output_burndown)


def ideal_seconds(
    *, jobs: int, quota: QuotaSettings, reserved: int, used: float, latency: float, slots: int
) -> float:
    """Return when the last of ``jobs`` calls would end if each started the moment ``quota``
    (counted as the emulator counts it) and a free slot let it, and held it ``latency`` s."""
    now = 0.0
    book = QuotaBook(quota, clock=lambda: now)
    ends: list[float] = []
    started = 0
    while True:
        while ends and ends[0] <= now:
            heapq.heappop(ends)
        while started < jobs and len(ends) < slots:
            try:
                admission = book.admit(region="r", model_id="m", reserved_tokens=reserved)
            except Throttling:
                break
            book.settle(admission, used_tokens=used, after=latency)
            heapq.heappush(ends, now + latency)
            started += 1
        if started == jobs:
            return max(ends)
        now += STEP
