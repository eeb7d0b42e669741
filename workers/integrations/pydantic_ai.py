"""Pydantic AI's ``BedrockConverseModel`` for the running job.

Usage::

    from pydantic_ai import Agent
    from workers import app
    from workers.integrations.pydantic_ai import bedrock_model

    @app.task
    def summarize(text):
        return Agent(bedrock_model()).run_sync(f"Summarize: {text}").output

Left to itself, ``BedrockConverseModel`` makes a ``BedrockProvider`` that builds a boto3 client
from ``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL*``, the worker's keys and
``AWS_BEARER_TOKEN_BEDROCK`` (which it prefers to keys). Given a client, the provider reads
nothing from the environment, so it gets the job's cached ``bedrock-runtime`` client, and the
model the envelope's model ID.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workers.bedrock import bedrock_client
from workers.context import current_envelope
from workers.integrations.pinning import missing_sdk, refuse_pinned

if TYPE_CHECKING:
    from pydantic_ai.models.bedrock import BedrockConverseModel

#: Arguments the envelope decides.
_PINNED = frozenset({"model_name", "provider"})


def bedrock_model(**kwargs: Any) -> BedrockConverseModel:
    """Return a ``BedrockConverseModel`` for the running job's model, on its client.

    Args:
        **kwargs: ``BedrockConverseModel``'s other options (``settings``, ``profile``).

    Raises:
        TypeError: ``model_name`` or ``provider`` was passed; the envelope decides them.
        NoCurrentEnvelope: called outside a Baton task.
    """
    try:
        from pydantic_ai.models.bedrock import BedrockConverseModel
        from pydantic_ai.providers.bedrock import BedrockProvider
    except ImportError as exc:
        raise missing_sdk("pydantic-ai", extra="pydantic-ai", call="bedrock_model()") from exc

    refuse_pinned(kwargs, _PINNED, call="bedrock_model()", others="settings, profile")
    provider = BedrockProvider(bedrock_client=bedrock_client())
    return BedrockConverseModel(current_envelope().model_id, provider=provider, **kwargs)
