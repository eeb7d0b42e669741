"""The subagent task: thin wiring between the gate's envelope, the client cache and Converse."""

from __future__ import annotations

from typing import Any

from celery import Celery, Task

from envelope import TASK_NAME
from workers.agents import get_agent
from workers.context import current_envelope
from workers.conversation import converse
from workers.results import SubagentResult
from workers.runtime import WorkerRuntime


def run_subagent(
    task: Task,  # type: ignore[type-arg]
    prompt: str,
    agent: str | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """Answer ``prompt`` as ``agent`` with the inherited envelope's region, model and endpoint."""
    envelope = current_envelope()
    spec = get_agent(agent)
    runtime: WorkerRuntime = task.app.baton_runtime  # type: ignore[attr-defined]
    client = runtime.clients.get(envelope)
    reply = converse(client, model_id=envelope.model_id, prompt=prompt, system=spec.system_prompt)
    return SubagentResult(
        job_id=str(task.request.id),
        agent=spec.name,
        text=reply.text,
        region=envelope.region,
        model_id=envelope.model_id,
        endpoint=client.meta.endpoint_url,
        usage=reply.usage,
        stop_reason=reply.stop_reason,
        depth=envelope.lineage.depth,
        root_id=envelope.lineage.root_id,
        parent_id=envelope.lineage.parent_id,
    ).model_dump(mode="json")


def register(app: Celery) -> Task:  # type: ignore[type-arg]
    """Register ``baton.subagent`` on ``app`` and return it."""
    task: Task = app.task(name=TASK_NAME, bind=True)(run_subagent)  # type: ignore[type-arg]
    return task
