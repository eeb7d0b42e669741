"""The IAM policy the emulator enforces, and which resources each call is authorised against.

Real deployments that must keep data in a region grant Bedrock on ``arn:aws:bedrock:<region>:*:*``
for the allowed regions only (:class:`RegionPolicy`, the ``--allow-region`` shortcut), or deploy
a finer policy (``--policy FILE``). A client that signs for another region, or a profile whose
destinations are not all granted, then gets the 403 this module reproduces, naming the exact
resource: the first symptom users see of a subagent that did not inherit its parent's region.

AWS's rule for geographic cross-region inference is reproduced: a call through an inference
profile needs the profile in the source region **and** the foundation model in every destination
region, the latter evaluated with ``bedrock:InferenceProfileArn`` set to the profile's ARN.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from emulator.credentials import Identity
from emulator.errors import AccessDenied
from emulator.iam import Decision, PolicyDocument
from emulator.profiles import InferenceProfile, ProfileRegistry
from envelope import EMULATOR_REGIONS_HEADER, geography_prefix

#: Converse and InvokeModel are both authorised as this action.
ACTION = "bedrock:InvokeModel"
#: The IAM action each operation is authorised as; Converse counts as InvokeModel, as on AWS.
ACTIONS = {
    "Converse": ACTION,
    "InvokeModel": ACTION,
    "ConverseStream": "bedrock:InvokeModelWithResponseStream",
    "InvokeModelWithResponseStream": "bedrock:InvokeModelWithResponseStream",
    "ListInferenceProfiles": "bedrock:ListInferenceProfiles",
    "GetInferenceProfile": "bedrock:GetInferenceProfile",
}
#: Decisions are cached per call shape; the bound keeps a fuzzing run from growing it forever.
MAX_CACHED_DECISIONS = 4096


def resource_arn(model_id: str, *, region: str, account_id: str) -> str:
    """Return the ARN IAM evaluates first when ``model_id`` is invoked from ``region``.

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
    """Allow Bedrock on ``arn:aws:bedrock:<region>:*:*`` for each allowed region.

    An empty set allows nothing, which is the safe default for an emulator nobody configured.
    """

    allowed_regions: frozenset[str]

    @classmethod
    def of(cls, regions: Iterable[str]) -> RegionPolicy:
        """Build a policy from any iterable of region names."""
        return cls(frozenset(regions))

    def statements(self) -> list[dict[str, object]]:
        """Return the region grants as IAM statements, one per region, for a human reading a 403."""
        return [
            {"Effect": "Allow", "Action": "bedrock:*", "Resource": f"arn:aws:bedrock:{region}:*:*"}
            for region in sorted(self.allowed_regions)
        ]

    def document(self) -> PolicyDocument:
        """Return the whole shortcut as a policy document.

        That is the region grants plus the foundation model in any destination region, when it is
        reached through a profile of an allowed region: so a cross-region profile called from an
        allowed region works, while a call signed for another region is still refused.
        """
        statements = self.statements()
        if self.allowed_regions:
            profiles = [f"arn:aws:bedrock:{region}:*" for region in sorted(self.allowed_regions)]
            statements.append(
                {
                    "Effect": "Allow",
                    "Action": "bedrock:*",
                    "Resource": "arn:aws:bedrock:*::foundation-model/*",
                    "Condition": {"StringLike": {"bedrock:InferenceProfileArn": profiles}},
                }
            )
        return PolicyDocument.from_json({"Statement": statements}, source="--allow-region")

    def allows(self, resource: str) -> bool:
        """Tell whether some region grant's resource pattern matches ``resource``."""
        parts = resource.split(":", 5)
        return (
            len(parts) == 6
            and parts[:3] == ["arn", "aws", "bedrock"]
            and parts[3] in self.allowed_regions
        )


@dataclass(frozen=True, slots=True)
class Grant:
    """One resource a call must be allowed on, with the condition keys IAM sees for it."""

    resource: str
    region: str
    profile_arn: str | None = None

    def context(self) -> dict[str, str]:
        """Return the request context keys, lower-cased as conditions compare them."""
        context = {"aws:requestedregion": self.region}
        if self.profile_arn is not None:
            context["bedrock:inferenceprofilearn"] = self.profile_arn
        return context


class AccessPolicy:
    """Authorise calls against the union of the ``--allow-region`` shortcut and a policy file.

    Args:
        document: the effective identity-based policy every test identity gets.
        profiles: where the destinations of each inference profile come from.
        allowed_regions: the ``--allow-region`` list, named on every 403 in
            ``EMULATOR_REGIONS_HEADER`` so a client can say which option fixes it.
    """

    def __init__(
        self,
        document: PolicyDocument,
        profiles: ProfileRegistry,
        *,
        allowed_regions: Iterable[str] = (),
    ) -> None:
        self.document = document
        self._profiles = profiles
        regions = ",".join(sorted(allowed_regions)) or "none"
        self._headers = ((EMULATOR_REGIONS_HEADER, regions),)
        self._cache: dict[tuple[str, str, str, str], tuple[str, Decision] | None] = {}

    def grants(self, model_id: str, *, region: str, account_id: str) -> tuple[Grant, ...]:
        """Return what invoking ``model_id`` from ``region`` needs, the profile first."""
        first = Grant(resource_arn(model_id, region=region, account_id=account_id), region)
        profile = self._profile_behind(model_id, region=region, account_id=account_id)
        if profile is None:
            return (first,)
        return (
            first,
            *(Grant(arn, region, profile.arn) for arn in profile.model_arns),
        )

    def authorize_invocation(
        self, identity: Identity, action: str, model_id: str, *, region: str
    ) -> None:
        """Raise AccessDenied naming the first resource of the call the policy does not allow."""
        key = (action, model_id, region, identity.account_id)
        if key not in self._cache:
            if len(self._cache) >= MAX_CACHED_DECISIONS:
                self._cache.clear()
            grants = self.grants(model_id, region=region, account_id=identity.account_id)
            self._cache[key] = self._first_denial(action, grants)
        denial = self._cache[key]
        if denial is not None:
            raise access_denied(identity, action, *denial, headers=self._headers)

    def authorize_read(self, identity: Identity, action: str, grant: Grant) -> None:
        """Raise AccessDenied only on an explicit Deny: reads are allowed to any known caller."""
        if (
            self.document.evaluate(action, grant.resource, grant.context())
            is Decision.EXPLICIT_DENY
        ):
            raise access_denied(
                identity, action, grant.resource, Decision.EXPLICIT_DENY, headers=self._headers
            )

    def _first_denial(self, action: str, grants: tuple[Grant, ...]) -> tuple[str, Decision] | None:
        for grant in grants:
            decision = self.document.evaluate(action, grant.resource, grant.context())
            if decision is not Decision.ALLOW:
                return grant.resource, decision
        return None

    def _profile_behind(
        self, model_id: str, *, region: str, account_id: str
    ) -> InferenceProfile | None:
        if model_id.startswith("arn:") or geography_prefix(model_id) is not None:
            return self._profiles.find(model_id, region=region, account_id=account_id)
        return None


def access_denied(
    identity: Identity,
    action: str,
    resource: str,
    decision: Decision,
    *,
    headers: tuple[tuple[str, str], ...] = (),
) -> AccessDenied:
    """Return the 403 worded as Bedrock words it, for an implicit or an explicit deny; the body
    is Bedrock's, ``headers`` are the emulator's own."""
    reason = (
        "with an explicit deny in an identity-based policy"
        if decision is Decision.EXPLICIT_DENY
        else f"because no identity-based policy allows the {action} action"
    )
    return AccessDenied(
        f"User: {identity.arn} is not authorized to perform: {action} on resource: {resource} "
        f"{reason}",
        headers=headers,
    )
