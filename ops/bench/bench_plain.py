"""The baseline of the no-op benchmark: a plain Celery app with the Baton app's worker settings.

Usage::

    PYTHONPATH=ops/bench celery -A bench_plain worker -P solo -Q bench.plain

It imports nothing of Baton's, so no gate, hook or executor patch runs in its worker. The settings
that shape a worker's speed are the Baton app's own, read by the harness at the start of each run
and passed in ``BATON_BENCH_PLAIN_SETTINGS``, so a change on the Baton side cannot silently turn
the comparison unfair. Its tasks set no per-task options: a subagent's late acknowledgement and
its delivery guard are part of what the I/O-bound comparison measures.
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

import boto3
from botocore.config import Config
from celery import Celery
from celery.signals import worker_ready
from names import (
    MIRRORED_SETTINGS,
    PLAIN_CONVERSE_LATE_TASK,
    PLAIN_CONVERSE_TASK,
    PLAIN_NOOP_TASK,
    PLAIN_SETTINGS_VARIABLE,
    PLAIN_SLEEP_TASK,
    READY_MARKER,
)

app = Celery(
    "bench-plain",
    broker=os.environ.get("BATON_BROKER_URL"),
    backend=os.environ.get("BATON_RESULT_BACKEND"),
)
app.conf.update(json.loads(os.environ.get(PLAIN_SETTINGS_VARIABLE) or "null") or MIRRORED_SETTINGS)


@app.task(name=PLAIN_NOOP_TASK)
def plain_noop() -> None:
    """Do nothing, with no gate."""


@app.task(name=PLAIN_SLEEP_TASK)
def plain_sleep(seconds: float) -> None:
    """Wait like a model call, with no client at all: Celery's own ceiling for (c)."""
    time.sleep(seconds)


#: The request a subagent's first turn sends besides its prompt: a system prompt and the Task
#: tool (the same shape as ``workers.conversation.TASK_TOOL_SPEC``, copied so that this module
#: imports nothing of Baton's).
SYSTEM_PROMPT = "You are a general-purpose subagent. Answer the task you are given, briefly."
TOOL_CONFIG: dict[str, Any] = {
    "tools": [
        {
            "toolSpec": {
                "name": "Task",
                "description": "Start a subagent for a self-contained task and get its answer.",
                "inputSchema": {
                    "json": {
                        "type": "object",
                        "properties": {
                            "description": {"type": "string", "description": "A short label."},
                            "prompt": {"type": "string", "description": "The task, in full."},
                            "subagent_type": {"type": "string", "description": "A named agent."},
                            "model": {"type": "string", "description": "A model alias or ID."},
                        },
                        "required": ["description", "prompt"],
                    }
                },
            }
        }
    ]
}

_clients: dict[tuple[str, str], Any] = {}
_lock = threading.Lock()


def _client(endpoint_url: str, region: str) -> Any:
    """Return this process's client for ``endpoint_url``: built once, as Baton's cache does."""
    key = (endpoint_url, region)
    with _lock:
        if key not in _clients:
            config = Config(
                signature_version="v4",
                max_pool_connections=max(int(os.environ.get("BATON_CONCURRENCY", "10")), 10),
                retries={"mode": "standard", "total_max_attempts": 3},
            )
            _clients[key] = boto3.Session().client(
                "bedrock-runtime", region_name=region, endpoint_url=endpoint_url, config=config
            )
        return _clients[key]


@app.task(name=PLAIN_CONVERSE_TASK)
def plain_converse(endpoint_url: str, region: str, model_id: str, prompt: str) -> dict[str, Any]:
    """Make the one Converse call a subagent job makes, with no envelope, gate or guard.

    The result has the shape of a subagent's, so storing and logging it costs the same.
    """
    return _converse(endpoint_url, region, model_id, prompt)


@app.task(name=PLAIN_CONVERSE_LATE_TASK, acks_late=True, reject_on_worker_lost=True)
def plain_converse_late(
    endpoint_url: str, region: str, model_id: str, prompt: str
) -> dict[str, Any]:
    """The same call, acknowledged only once it is done, as a subagent job is."""
    return _converse(endpoint_url, region, model_id, prompt)


def _converse(endpoint_url: str, region: str, model_id: str, prompt: str) -> dict[str, Any]:
    """Call Converse as a subagent's first turn does; return a subagent's result shape."""
    response = _client(endpoint_url, region).converse(
        modelId=model_id,
        messages=[{"role": "user", "content": [{"text": prompt}]}],
        system=[{"text": SYSTEM_PROMPT}],
        toolConfig=TOOL_CONFIG,
        inferenceConfig={"maxTokens": 1024},
    )
    content = response["output"]["message"]["content"]
    return {
        "text": "".join(block.get("text", "") for block in content),
        "region": region,
        "model_id": model_id,
        "endpoint": endpoint_url,
        "usage": {
            "input_tokens": response["usage"]["inputTokens"],
            "output_tokens": response["usage"]["outputTokens"],
            "total_tokens": response["usage"]["totalTokens"],
        },
        "stop_reason": response["stopReason"],
    }


@worker_ready.connect(weak=False)
def announce_ready(sender: Any = None, **_: Any) -> None:
    """Tell the harness this worker consumes."""
    print(READY_MARKER, flush=True)
