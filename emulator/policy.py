"""A region-scoped IAM Allow policy, and the resource ARN a call is authorised against.

Real deployments that must keep data in a region grant ``bedrock:InvokeModel`` on
``arn:aws:bedrock:<region>:*:*`` for the allowed regions only. A client that signs for another
region then gets the 403 this module reproduces, naming the exact resource, which is the first
symptom users see of a subagent that did not inherit its parent's region.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from emulator.credentials import Identity
from emulator.errors import AccessDenied
from envelope.regions import geography_prefix

#: Converse and InvokeModel are both authorised as this action.
ACTION = "bedrock:InvokeModel"


def resource_arn(model_id: str, *, region: str, account_id: str) -> str:
    """Return the ARN IAM evaluates when ``model_id`` is invoked from ``region``.

    A geography profile ID is a system inference profile owned by the caller's account in the
    source region; a bare ID is a foundation model, whose ARN has an empty account field; an
    ARN is its own resource.
    """
    if model_id.startswith("arn:"):
        return model_id
    if geography_prefix(model_id) is not None:
        return f"arn:aws:bedrock:{region}:{account_id}:inference-profile/{model_id}"
    return f"arn:aws:bedrock:{region}::foundation-model/{model_id}"


@dataclass(frozen=True)
class RegionPolicy:
    """Allow ``bedrock:InvokeModel`` on ``arn:aws:bedrock:<region>:*:*`` for each allowed region.

    An empty set allows nothing, which is the safe default for an emulator nobody configured.
    """

    allowed_regions: frozenset[str]

    @classmethod
    def of(cls, regions: Iterable[str]) -> RegionPolicy:
        """Build a policy from any iterable of region names."""
        return cls(frozenset(regions))

    def statements(self) -> list[dict[str, object]]:
        """Return the policy as IAM statements, for logs and for a human reading a 403."""
        return [
            {"Effect": "Allow", "Action": ACTION, "Resource": f"arn:aws:bedrock:{region}:*:*"}
            for region in sorted(self.allowed_regions)
        ]

    def allows(self, resource: str) -> bool:
        """Tell whether some statement's resource pattern matches ``resource``."""
        parts = resource.split(":", 5)
        return (
            len(parts) == 6
            and parts[:3] == ["arn", "aws", "bedrock"]
            and parts[3] in self.allowed_regions
        )

    def authorize(self, identity: Identity, resource: str) -> None:
        """Raise AccessDenied, worded as Bedrock words it, unless ``resource`` is allowed."""
        if not self.allows(resource):
            raise AccessDenied(
                f"User: {identity.arn} is not authorized to perform: {ACTION} on resource: "
                f"{resource} because no identity-based policy allows the {ACTION} action"
            )
