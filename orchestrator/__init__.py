"""The producer side: capture the parent's Bedrock configuration and enqueue subagent jobs.

Usage::

    from orchestrator import Orchestrator

    orch = Orchestrator.from_env()          # captures and resolves the parent's config
    result = orch.spawn(prompt="...", agent="code-architect", model="haiku")
    orch.gather([result])
"""

from orchestrator.capture import CapturedConfig, Setting, capture
from orchestrator.errors import CaptureError, InvalidSetting, RegionNotConfigured
from orchestrator.parent import Orchestrator
from orchestrator.producer import close_producer, producer_app
from orchestrator.settings import ProducerSettings

__all__ = [
    "CaptureError",
    "CapturedConfig",
    "InvalidSetting",
    "Orchestrator",
    "ProducerSettings",
    "RegionNotConfigured",
    "Setting",
    "capture",
    "close_producer",
    "producer_app",
]
