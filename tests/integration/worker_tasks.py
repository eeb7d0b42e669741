"""Extra tasks loaded into test workers with ``celery -A workers worker -I``.

They are registered on the Baton app, so the gate and the publish hook apply to them exactly as to
``baton.subagent``.
"""

from __future__ import annotations

import os
from typing import Any

from envelope import TASK_NAME
from workers import app, bedrock_client, current_envelope


@app.task(name="baton.test.spawn_child", bind=True)
def spawn_child(self: Any, prompt: str) -> dict[str, Any]:
    """Start one subagent from inside a task with a plain send_task: no headers passed."""
    child = app.send_task(TASK_NAME, kwargs={"prompt": prompt})
    envelope = current_envelope()
    return {"job_id": self.request.id, "child_id": child.id, "depth": envelope.lineage.depth}


@app.task(name="baton.test.cache_stats")
def cache_stats() -> dict[str, Any]:
    """Report this process's client cache, after touching the client for the current envelope."""
    client = bedrock_client()
    cache = app.baton_runtime.clients
    return {
        "pid": os.getpid(),
        "builds": cache.builds,
        "size": len(cache),
        "region": client.meta.region_name,
        "endpoint": client.meta.endpoint_url,
        "signature_version": client.meta.config.signature_version,
    }
