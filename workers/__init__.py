"""The consumer side: a Celery app whose tasks run only with their parent's Bedrock envelope.

Usage::

    from workers import app, current_envelope, bedrock_client

    @app.task
    def summarize(text):
        client = bedrock_client()                       # built from the inherited envelope
        return client.converse(modelId=current_envelope().model_id, ...)

Besides the task-side API and the app, the surface holds what the CLI composes: ``configure``,
``WorkerSettings``, ``serve_metrics``, ``DeadLetters``, ``client_config`` (``baton doctor``
builds its client as a worker would) and ``emulator_regions``/``emulator_hint`` (and explains an
emulator's 403 as a worker does).
"""

from workers.bedrock import (
    bedrock_client,
    bedrock_control_client,
    bedrock_credentials,
    bedrock_session,
)
from workers.celery_app import BatonCelery, app, configure, create_app
from workers.clients import client_config
from workers.context import current_envelope, current_job
from workers.conversation import emulator_hint, emulator_regions
from workers.dead_letters import DeadLetters
from workers.errors import (
    AgentDefinitionInvalid,
    BedrockCallFailed,
    BedrockCallRetryable,
    BuiltinNotAllowed,
    DepthExceeded,
    EndpointNotAllowed,
    GeographyNotAllowed,
    IdentityUnavailable,
    LifetimeNotAllowed,
    MessageExpired,
    MessageMalformed,
    NoCurrentEnvelope,
    PolicyViolation,
    PublishRefused,
    RegionNotAllowed,
    TaskNotRegistered,
    TreeBudgetExhausted,
    UnknownAgent,
    WorkerError,
    WorkerMisconfigured,
)
from workers.hooks import inherit
from workers.integrations import anthropic_client, async_anthropic_client, claude_code_env
from workers.metrics import serve as serve_metrics
from workers.settings import WorkerSettings

__all__ = [
    "AgentDefinitionInvalid",
    "BatonCelery",
    "BedrockCallFailed",
    "BedrockCallRetryable",
    "BuiltinNotAllowed",
    "DeadLetters",
    "DepthExceeded",
    "EndpointNotAllowed",
    "GeographyNotAllowed",
    "IdentityUnavailable",
    "LifetimeNotAllowed",
    "MessageExpired",
    "MessageMalformed",
    "NoCurrentEnvelope",
    "PolicyViolation",
    "PublishRefused",
    "RegionNotAllowed",
    "TaskNotRegistered",
    "TreeBudgetExhausted",
    "UnknownAgent",
    "WorkerError",
    "WorkerMisconfigured",
    "WorkerSettings",
    "anthropic_client",
    "app",
    "async_anthropic_client",
    "bedrock_client",
    "bedrock_control_client",
    "bedrock_credentials",
    "bedrock_session",
    "claude_code_env",
    "client_config",
    "configure",
    "create_app",
    "current_envelope",
    "current_job",
    "emulator_hint",
    "emulator_regions",
    "inherit",
    "serve_metrics",
]
