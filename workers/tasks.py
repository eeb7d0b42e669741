"""The subagent tasks: thin wiring of the loop's decisions to Celery, the gate and the client.

``baton.subagent`` takes the first turn; ``baton.subagent.resume`` is the chord callback that
takes each later one. A job that asks for children replaces itself with ``chord(children,
resume)``: its id, and so its AsyncResult, passes to the callback, and no slot waits meanwhile.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, Task, chord
from celery.exceptions import Ignore

from envelope import (
    HEADER_KEY,
    TASK_NAME,
    BatonError,
    BedrockEnvelope,
)
from workers import tracing
from workers.child_models import job_model_id
from workers.context import current_envelope, require_job
from workers.conversation import TASK_TOOL_SPEC, converse
from workers.delivery import budget, guard
from workers.errors import BedrockCallRetryable, TreeBudgetExhausted
from workers.loop import (
    STOP_MAX_JOBS,
    ChildCall,
    ConversationState,
    Pending,
    limit_reached,
    plan_calls,
)
from workers.results import ChildFailure, SubagentResult
from workers.runtime import WorkerRuntime

#: The chord callback that resumes a parent once its children have answered.
RESUME_TASK_NAME = "baton.subagent.resume"


def _runtime(task: Task) -> WorkerRuntime:  # type: ignore[type-arg]
    runtime: WorkerRuntime = task.app.baton_runtime  # type: ignore[attr-defined]
    return runtime


def run_subagent(
    task: Task,  # type: ignore[type-arg]
    prompt: str,
    *,
    agent: str | None = None,
    description: str | None = None,
    model: str | None = None,
    as_tool: bool = False,
) -> SubagentResult | dict[str, Any]:
    """Take the first turn of a subagent job."""
    try:
        envelope = current_envelope()
        spec = _runtime(task).agents.get(agent)
        state = ConversationState.start(
            job_id=str(task.request.id),
            agent=spec.name,
            system=spec.system_prompt,
            model_id=job_model_id(envelope, spec, model),
            prompt=prompt,
            as_tool=as_tool,
        )
        if envelope.lineage.depth == 0:
            _reserve_root(task, state, envelope)
        return advance(task, state)
    except BatonError as exc:
        return _failed(task, exc, as_tool=as_tool)


def resume_subagent(
    task: Task,  # type: ignore[type-arg]
    child_results: list[dict[str, Any]],
    state: dict[str, Any],
) -> SubagentResult | dict[str, Any]:
    """Take the next turn once every child has answered.

    The state's model is checked against the envelope as a child's model is (``job_model_id``):
    a state is data in a message, and a key holder other than this job's parent may have made it.
    """
    resumed = ConversationState.model_validate(state)
    try:
        envelope = current_envelope()
        if resumed.model_id != envelope.model_id:  # the inherited model needs no check
            spec = _runtime(task).agents.get(resumed.agent)
            model_id = job_model_id(envelope, spec, resumed.model_id)
            resumed = resumed.model_copy(update={"model_id": model_id})
        return advance(task, resumed.with_results(list(child_results)))
    except BatonError as exc:
        return _failed(task, exc, as_tool=resumed.as_tool)


def _failed(task: Task, exc: BatonError, *, as_tool: bool) -> dict[str, Any]:  # type: ignore[type-arg]
    """Re-raise for a top-level job; for a Task-tool child, return a failure its parent reads.

    The parent turns that into an error toolResult and carries on, instead of losing its chord.
    A throttled or failed call is re-raised while retries remain, so ``autoretry_for`` applies.
    """
    retryable = isinstance(exc, BedrockCallRetryable) and task.request.retries < (
        task.max_retries or 0
    )
    if not as_tool or retryable:
        raise exc
    error = {"type": type(exc).__name__, "message": str(exc)}
    return ChildFailure(job_id=str(task.request.id), error=error).model_dump(mode="json")


def advance(task: Task, state: ConversationState) -> SubagentResult:  # type: ignore[type-arg]
    """Converse until the model stops, a limit is hit, or children must run first."""
    envelope = current_envelope()
    client = _runtime(task).clients.get(envelope)
    endpoint = client.meta.endpoint_url
    while True:
        reply = converse(
            client,
            model_id=state.model_id,
            messages=state.messages,
            system=state.system,
            tools=[TASK_TOOL_SPEC],
        )
        state = state.after_reply(reply)
        if reply.stop_reason != "tool_use" or not reply.tool_uses:
            return finish(
                state, envelope, endpoint=endpoint, stop_reason=reply.stop_reason, text=reply.text
            )
        plan = plan_calls(reply.tool_uses)
        calls = [item for item in plan if isinstance(item, ChildCall)]
        stop = limit_reached(state, envelope, children=len(calls))
        tree = _reserve(task, state, envelope, len(calls)) if stop is None else None
        if tree is None:  # a limit reached, or no room in the tree for the children
            stop_reason = stop or STOP_MAX_JOBS
            return finish(
                state, envelope, endpoint=endpoint, stop_reason=stop_reason, text=reply.text
            )
        if not calls:
            state = state.awaiting([i for i in plan if isinstance(i, Pending)]).with_results([])
            continue
        raise _spawn(task, state, envelope, plan, tree=tree)


def _reserve(
    task: Task,  # type: ignore[type-arg]
    state: ConversationState,
    envelope: BedrockEnvelope,
    count: int,
) -> str | None:
    """Reserve ``count`` children in the job's tree; the tree, or None when it is full."""
    tree = budget.tree_of(task.app.backend, job_id=state.job_id, envelope=envelope)
    reserved = budget.reserve(
        task.app.backend,
        root_id=tree,
        reservation=f"{state.job_id}:{state.turns}",
        count=count,
        limit=envelope.limits.max_jobs,
        ttl=envelope.exp - envelope.iat,
    )
    return tree if reserved else None


def _reserve_root(
    task: Task,  # type: ignore[type-arg]
    state: ConversationState,
    envelope: BedrockEnvelope,
) -> None:
    """Count an explicitly spawned job as the first job of its own tree.

    Raises:
        TreeBudgetExhausted: ``max_jobs`` leaves no room even for the spawned job itself.
    """
    if not budget.reserve(
        task.app.backend,
        root_id=state.job_id,
        reservation=f"{state.job_id}:root",
        count=1,
        limit=envelope.limits.max_jobs,
        ttl=envelope.exp - envelope.iat,
    ):
        raise TreeBudgetExhausted(
            f"job {state.job_id} would start a tree of its own and its max_jobs is "
            f"{envelope.limits.max_jobs}, so it does not start; raise BATON_MAX_JOBS within "
            "the workers' ceiling"
        )


def _spawn(
    task: Task,  # type: ignore[type-arg]
    state: ConversationState,
    envelope: BedrockEnvelope,
    plan: list[ChildCall | Pending],
    *,
    tree: str,
) -> Exception:
    """Replace the job with ``chord(children, resume)``; the callback carries the state;
    the children count against ``tree`` (where their reservation was made)."""
    job = require_job()  # it binds the tokens it mints here, and no others
    child_headers = {HEADER_KEY: job.mint(envelope.child(parent_id=state.job_id))}
    children, pending = [], []
    for item in plan:
        if isinstance(item, Pending):
            pending.append(item)
            continue
        child = task.app.signature(
            TASK_NAME,
            kwargs={
                "prompt": item.prompt,
                "description": item.description,
                "agent": item.agent,
                "model": item.model,
                "as_tool": True,
            },
            headers=child_headers,
        )
        child_id = child.freeze().id
        children.append(child)
        pending.append(Pending(tool_use_id=item.tool_use_id, child_id=child_id))
    budget.record_children(
        task.app.backend,
        job_id=state.job_id,
        child_ids=[p.child_id for p in pending if p.child_id],
        ttl=envelope.exp - envelope.iat,
        tree=tree,
    )
    resume_headers = {HEADER_KEY: job.mint(envelope.refreshed())}
    tracing.inject(resume_headers)  # whoever publishes the callback later, it joins this trace
    resume = task.app.signature(
        RESUME_TASK_NAME,
        kwargs={"state": state.awaiting(pending).model_dump(mode="json")},
        headers=resume_headers,
    )
    try:
        replaced: Exception = task.replace(chord(children, resume))
    except Ignore:  # published: from now on a redelivered copy of this turn must not run
        guard.mark_handed_on(
            task.app.backend,
            job_id=state.job_id,
            turns=state.turns,
            ttl=envelope.exp - envelope.iat,
        )
        raise
    return replaced


def finish(
    state: ConversationState,
    envelope: BedrockEnvelope,
    *,
    endpoint: str,
    stop_reason: str,
    text: str,
) -> SubagentResult:
    """Return the job's result: its answer, lineage, children and subtree usage."""
    return {
        "job_id": state.job_id,
        "agent": state.agent,
        "text": text,
        "region": envelope.region,
        "model_id": state.model_id,
        "endpoint": endpoint,
        "usage": state.usage.as_dict(),
        "stop_reason": stop_reason,
        "depth": envelope.lineage.depth,
        "root_id": envelope.lineage.root_id,
        "parent_id": envelope.lineage.parent_id,
        "children": list(state.children),
        "turns": state.turns,
        "tree_jobs": state.tree_jobs,
    }


def register(app: Celery) -> Task:  # type: ignore[type-arg]
    """Register ``baton.subagent`` and its resume callback on ``app``; return the first."""
    options: dict[str, Any] = {**guard.SUBAGENT_TASK_OPTIONS, "baton_guarded": True}
    decorate: Any = app.task  # celery-types cannot type custom task options
    decorate(name=RESUME_TASK_NAME, bind=True, **options)(resume_subagent)
    task: Task = decorate(name=TASK_NAME, bind=True, **options)(run_subagent)  # type: ignore[type-arg]
    return task
