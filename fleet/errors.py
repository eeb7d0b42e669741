"""Errors of the fleet's pacing of Bedrock calls.

BatonError (envelope)
└── FleetError
    ├── QuotaConfigInvalid
    └── AdmissionTimedOut
"""

from __future__ import annotations

from envelope import BatonError


class FleetError(BatonError):
    """Raised for a failure of how the fleet's calls travel; the root of this package's errors."""

    code = "fleet_error"


class QuotaConfigInvalid(FleetError, ValueError):
    """Raised when ``BATON_BEDROCK_QUOTAS`` (or the file it names) is not a valid quota table."""

    code = "quota_config_invalid"


class AdmissionTimedOut(FleetError):
    """Raised when a call waited for its quota past the job's own limits; the call was not sent.

    The message names the quota key (source region and model or profile ID) and the rate the
    fleet was held to, so an operator can tell a quota too small for the fleet from a job whose
    limits are too short.
    """

    code = "admission_timed_out"
