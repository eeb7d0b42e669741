"""A user's own task module, with Celery's default task names (``<module>.<function>``).

``tests/integration/test_own_clients.py`` loads it into a worker with ``--include`` and, to test
what a worker without that ``--include`` does, into no worker at all. Each task builds its own
Bedrock client from ``bedrock_session()``, as a framework handed a boto3 Session does.
"""

from __future__ import annotations

from typing import Any

from workers import app, bedrock_session, current_envelope

PROMPT = [{"role": "user", "content": [{"text": "hello from a user task"}]}]


@app.task
def converse_inherited() -> dict[str, Any]:
    """Converse through a client that names no endpoint: it must go where the job goes."""
    client = bedrock_session().client("bedrock-runtime")
    reply = client.converse(modelId=current_envelope().model_id, messages=PROMPT)
    control = bedrock_session().client("bedrock")
    profiles = control.list_inference_profiles(maxResults=1)
    return {
        "endpoint": client.meta.endpoint_url,
        "control_endpoint": control.meta.endpoint_url,
        "text": reply["output"]["message"]["content"][0]["text"],
        "profiles": len(profiles["inferenceProfileSummaries"]),
    }


@app.task
def converse_at(endpoint: str) -> str:
    """Converse through a client pointed at ``endpoint`` by the task itself."""
    client = bedrock_session().client("bedrock-runtime", endpoint_url=endpoint)
    client.converse(modelId=current_envelope().model_id, messages=PROMPT)
    return "sent"


@app.task
def converse_past_the_session(endpoint: str) -> str:
    """Converse through a client made on the session's botocore session, past its wrapper."""
    core = bedrock_session()._session
    client = core.create_client("bedrock-runtime", region_name="eu-west-1", endpoint_url=endpoint)
    client.converse(modelId=current_envelope().model_id, messages=PROMPT)
    return "sent"


@app.task
def echo(text: str) -> str:
    """Return ``text``: a task only workers started with ``--include`` this module know."""
    return text
