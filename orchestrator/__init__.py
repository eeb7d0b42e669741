"""The producer side: capture the parent's Bedrock configuration and enqueue subagent jobs.

Usage::

    from orchestrator import Orchestrator

    orch = Orchestrator.from_env()          # captures and resolves the parent's config
    result = orch.spawn(prompt="...", agent="code-architect", model="haiku")
    orch.gather([result])

The rest of the surface serves the CLI: ``capture_location``, ``discovered_catalogue``, the
diagnoses of ``baton doctor`` and the least-privilege policy of ``baton iam-policy``.
"""

from orchestrator.capture import CapturedConfig, capture, capture_location
from orchestrator.diagnosis import (
    Diagnosis,
    access_denied,
    bedrock_error,
    connection_error,
    no_credentials,
)
from orchestrator.errors import CaptureError, InvalidSetting, RegionNotConfigured
from orchestrator.iam import iam_policy
from orchestrator.parent import Orchestrator, discovered_catalogue
from orchestrator.producer import close_producer, producer_app
from orchestrator.settings import ProducerSettings

__all__ = [
    "CaptureError",
    "CapturedConfig",
    "Diagnosis",
    "InvalidSetting",
    "Orchestrator",
    "ProducerSettings",
    "RegionNotConfigured",
    "access_denied",
    "bedrock_error",
    "capture",
    "capture_location",
    "close_producer",
    "connection_error",
    "discovered_catalogue",
    "iam_policy",
    "no_credentials",
    "producer_app",
]
