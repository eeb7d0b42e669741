"""How messages travel through the fleet: here, how every Bedrock call waits its turn.

Usage::

    from fleet import Governor, QuotaTable, quota_key, reserved_tokens

    governor = Governor(redis_client, quotas=QuotaTable.parse(os.environ["BATON_BEDROCK_QUOTAS"]))
    ticket = governor.admit(key, reserved_tokens=n, max_wait=600)
    ...  # send the call
    governor.settle(ticket, outcome="ok", used_tokens=usage_total)
"""

from fleet.calls import quota_key, reserved_tokens, used_tokens
from fleet.errors import AdmissionTimedOut, FleetError, QuotaConfigInvalid
from fleet.governor import Governor, Outcome, QuotaKey, Settled, Ticket
from fleet.quotas import ModelQuota, QuotaTable

__all__ = [
    "AdmissionTimedOut",
    "FleetError",
    "Governor",
    "ModelQuota",
    "Outcome",
    "QuotaConfigInvalid",
    "QuotaKey",
    "QuotaTable",
    "Settled",
    "Ticket",
    "quota_key",
    "reserved_tokens",
    "used_tokens",
]
