"""Errors a worker raises instead of running a job or calling Bedrock.

Each takes a single message so Celery can store it as the job's result and rebuild it for the
parent. Envelope errors (missing, tampered, expired...) come from ``envelope.errors``.

    BatonError (envelope.errors)
    └── WorkerError
        ├── PolicyViolation
        │   ├── RegionNotAllowed
        │   ├── EndpointNotAllowed
        │   ├── GeographyNotAllowed
        │   ├── LifetimeNotAllowed
        │   ├── TreeBudgetExhausted
        │   └── DepthExceeded
        ├── NoCurrentEnvelope (also an EnvelopeMissing)
        ├── PublishRefused
        ├── BuiltinNotAllowed
        ├── IdentityUnavailable
        ├── UnknownAgent
        ├── TaskNotRegistered
        ├── MessageExpired
        ├── AgentDefinitionInvalid
        ├── WorkerMisconfigured
        └── BedrockCallFailed
            └── BedrockCallRetryable
"""

from __future__ import annotations

from envelope import BatonError, EnvelopeMissing


class WorkerError(BatonError):
    """Raised for any worker-side refusal or failure Baton explains."""

    code = "worker_error"


class PolicyViolation(WorkerError):
    """Raised when a valid envelope asks for something this fleet does not allow."""

    code = "policy_violation"


class RegionNotAllowed(PolicyViolation):
    """Raised when the envelope's region is outside the worker's allowed regions."""

    code = "region_not_allowed"


class EndpointNotAllowed(PolicyViolation):
    """Raised when the envelope names an endpoint outside the fleet's allowlist."""

    code = "endpoint_not_allowed"


class GeographyNotAllowed(PolicyViolation):
    """Raised when a child's model may send calls where its parent's may not (``global.``)."""

    code = "geography_not_allowed"


class LifetimeNotAllowed(PolicyViolation):
    """Raised when an envelope's validity window is longer than this worker allows."""

    code = "lifetime_not_allowed"


class TreeBudgetExhausted(PolicyViolation):
    """Raised when a job would take its tree past ``max_jobs`` (or its count cannot be kept)."""

    code = "tree_budget_exhausted"


class DepthExceeded(PolicyViolation):
    """Raised when a job sits deeper in its tree than the envelope's ``max_depth``."""

    code = "depth_exceeded"


class NoCurrentEnvelope(WorkerError, EnvelopeMissing):
    """Raised when a worker-side API (``current_envelope()``, ``bedrock_client()``...) is called
    outside an admitted Baton task; it is an ``EnvelopeMissing`` too."""

    code = "no_current_envelope"


class IdentityUnavailable(WorkerError):
    """Raised when the envelope's identity mode cannot be honoured on this worker."""

    code = "identity_unavailable"


class UnknownAgent(WorkerError):
    """Raised when a job names a subagent type this worker does not define."""

    code = "unknown_agent"


class TaskNotRegistered(WorkerError):
    """Raised when a worker receives a message for a task it has not imported (a missing
    ``--include``); the message is dead-lettered, not discarded."""

    code = "task_not_registered"


class MessageExpired(WorkerError):
    """Raised when a message arrives past its Celery ``expires`` time and is not bound to its
    id, so Celery's REVOKED is not stored under that id: it is only dead-lettered."""

    code = "message_expired"


class MessageMalformed(WorkerError):
    """Raised when a task message is not Celery's protocol 2 as every Baton publisher sends it
    (headers naming its task and id): Celery would take the id from its body, past every check,
    so it is dead-lettered and fails no job."""

    code = "message_malformed"


class WorkerMisconfigured(WorkerError):
    """Raised when the worker itself is not set up to run Baton jobs safely."""

    code = "worker_misconfigured"


class BedrockCallFailed(WorkerError):
    """Raised when Bedrock answered a call with an error; the message carries code and hint."""

    code = "bedrock_call_failed"


class AgentDefinitionInvalid(WorkerError):
    """Raised when an agents directory or one of its Markdown definitions cannot be loaded."""

    code = "agent_definition_invalid"


class BedrockCallRetryable(BedrockCallFailed):
    """Raised when Bedrock throttled or failed on its side (429, 5xx): worth another try."""

    code = "bedrock_call_retryable"


class PublishRefused(WorkerError):
    """Raised when a worker is asked to bind a token it may not vouch for: with no admitted job
    running, or a token that is neither the running job's own, one it minted, nor one its
    verified message embeds. Nothing is signed and nothing is sent."""

    code = "publish_refused"


class BuiltinNotAllowed(WorkerError):
    """Raised when a message asks a worker to run one of Celery's built-in tasks that publishes
    (``celery.group``, ``celery.chord``, ``celery.chunks``...): no broker message may start one."""

    code = "builtin_not_allowed"
