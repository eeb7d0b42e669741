"""Errors of the producer side: capturing the parent's Bedrock configuration.

Every message says what happened, what was expected, and what to do about it. The classes take a
single message argument so that Celery can rebuild them from a result backend.

    BatonError (envelope.errors)
    └── CaptureError
        ├── RegionNotConfigured
        └── InvalidSetting

Model resolution failures are not captured here: ``envelope.ResolutionError`` and its subclasses
propagate unchanged, so the parent and its workers report them identically.
"""

from __future__ import annotations

from envelope import BatonError


class CaptureError(BatonError):
    """Raised when the parent's Bedrock configuration cannot be captured without guessing."""

    code = "capture_error"


class RegionNotConfigured(CaptureError):
    """Raised when no flag, variable or profile names an AWS region; us-east-1 is never assumed."""

    code = "region_not_configured"


class InvalidSetting(CaptureError):
    """Raised when a flag, variable or config file holds a value Baton cannot use as given."""

    code = "invalid_setting"
