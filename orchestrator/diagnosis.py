"""Plain-language diagnoses of a failed Bedrock call, for ``baton doctor``.

Each diagnosis says what happened, why that usually happens with subagents, and the exact fix:
the IAM statement that is missing, the prefix that fits the region, the variable to set.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from envelope import catalogue, geographies_of, geography_prefix
from orchestrator.iam import iam_policy

_DENIED = re.compile(
    r"User: (?P<identity>\S+) is not authorized to perform: (?P<action>\S+) "
    r"on resource: (?P<resource>\S+)"
)
_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY")


@dataclass(frozen=True)
class Diagnosis:
    """A verdict and the lines that explain it."""

    ok: bool
    title: str
    lines: list[str] = field(default_factory=list)


def access_denied(message: str, *, region: str, model_id: str) -> Diagnosis:
    """Explain a 403 AccessDeniedException and print the statement that would allow the call."""
    match = _DENIED.search(message)
    identity = match["identity"] if match else "(not in the message)"
    resource = match["resource"] if match else "(not in the message)"
    resource_region = resource.split(":")[3] if resource.count(":") >= 5 else "?"
    account = identity.split(":")[4] if identity.count(":") >= 5 else "*"
    policy = iam_policy(region=region, model_id=model_id, account=account or "*")
    missing = [s for s in policy["Statement"] if _covers(s["Resource"], resource)] or policy[
        "Statement"
    ]
    lines = [
        f"identity: {identity}",
        f"resource: {resource}",
        f"region of the resource: {resource_region} (the envelope's region: {region})",
    ]
    if _elsewhere(resource, resource_region, region=region, policy=policy):
        lines.append(
            f"the call went to {resource_region}, not {region}: a client built from local "
            "defaults (AWS_DEFAULT_REGION, AWS_REGION ignored by boto3) does exactly this"
        )
    lines.append("the identity needs this statement (from `baton iam-policy`):")
    lines += json.dumps(missing, indent=2).splitlines()
    return Diagnosis(False, "403 AccessDeniedException: the identity may not invoke this", lines)


def _covers(resources: list[str], resource: str) -> bool:
    """Tell whether an IAM resource list (``*`` within one ARN field) names ``resource``."""
    return any(
        re.fullmatch(re.escape(pattern).replace(r"\*", "[^:]*"), resource) for pattern in resources
    )


def _elsewhere(resource: str, resource_region: str, *, region: str, policy: dict[str, Any]) -> bool:
    """Tell whether the denied call was made somewhere this envelope would never call.

    A profile is only ever invoked in the envelope's region; a foundation model may legitimately
    be reached in any destination region of the profile.
    """
    if resource_region in (region, "?"):
        return False
    if ":foundation-model/" not in resource:
        return True
    return resource_region not in {
        arn.split(":")[3] for s in policy["Statement"] for arn in s["Resource"]
    }


def invalid_model(*, region: str, model_id: str) -> Diagnosis:
    """Explain 400 "The provided model identifier is invalid.": a prefix from another geography."""
    prefix = geography_prefix(model_id)
    base = model_id[len(prefix) + 1 :] if prefix else model_id
    entry = catalogue().models.get(base)
    fits = [g for g in geographies_of(region) if entry is None or g in entry.profiles]
    lines = [
        f"{model_id!r} is not callable from {region}",
        f"{region} belongs to the geographies: {', '.join(geographies_of(region))}",
    ]
    if prefix:
        lines.append(
            f"its prefix {prefix!r} names another geography; subagents must never "
            "re-derive a prefix from their own region"
        )
    if fits:
        lines.append(f"use: {fits[0]}.{base} (or pass the alias and let Baton resolve it)")
    else:
        lines.append(f"this model has no profile in {region}'s geographies; pick another model")
    return Diagnosis(False, "400 ValidationException: wrong model ID for this region", lines)


def on_demand(*, region: str, model_id: str) -> Diagnosis:
    """Explain 400 "... on-demand throughput isn’t supported": use a profile."""
    fits = [g for g in geographies_of(region) if g != "global"]
    return Diagnosis(
        False,
        "400 ValidationException: this model runs only through a profile",
        [
            f"{model_id!r} is a bare model ID; in {region} it runs only through a profile",
            f"use the profile ID ({fits[0] if fits else '<geo>'}.{model_id}) or set "
            "AWS_BEDROCK_CROSS_REGION_INFERENCE=true and pass the alias",
        ],
    )


def connection_error(error: Exception, *, endpoint: str, environ: Mapping[str, str]) -> Diagnosis:
    """Explain a failure to reach the endpoint: DNS, TLS, proxy, or nothing listening."""
    proxies = [f"{name}={environ[name]}" for name in _PROXY_VARIABLES if environ.get(name)]
    return Diagnosis(
        False,
        "could not reach Bedrock",
        [
            f"endpoint: {endpoint}",
            f"error: {error}",
            "check that the host resolves (DNS) and the port answers; for a VPC endpoint, that the "
            "endpoint's private DNS is on and its security group allows 443 from here",
            "proxy settings: " + (", ".join(proxies) if proxies else "none set"),
        ],
    )


def no_credentials(error: Exception) -> Diagnosis:
    """Explain a call that was never sent because botocore found no (or half a) credential set."""
    return Diagnosis(
        False,
        "no AWS credentials: the call was not sent",
        [
            f"error: {error}",
            "give this process the identity a worker would have: AWS_PROFILE, or "
            "AWS_ACCESS_KEY_ID with AWS_SECRET_ACCESS_KEY, or AWS_BEARER_TOKEN_BEDROCK, or an "
            "instance or pod role",
        ],
    )


def bedrock_error(
    code: str, status: object, message: str, *, region: str, model_id: str
) -> Diagnosis:
    """Explain an error Bedrock answered a call for ``model_id`` in ``region`` with.

    The 403 and the two 400s that a wrong region or model ID cause get their own explanation;
    any other error gets a hint by its code.
    """
    if code == "AccessDeniedException":
        return access_denied(message, region=region, model_id=model_id)
    if code == "ValidationException" and "on-demand throughput" in message:
        return on_demand(region=region, model_id=model_id)
    if code == "ValidationException" and "model identifier is invalid" in message:
        return invalid_model(region=region, model_id=model_id)
    return other_error(code, status, message)


def other_error(code: str, status: object, message: str) -> Diagnosis:
    """Explain any other error Bedrock returned."""
    hints = {
        "UnrecognizedClientException": "the credentials are not valid for this endpoint",
        "InvalidSignatureException": "the secret key or the clock is wrong",
        "ExpiredTokenException": "the session token expired; refresh the credentials",
        "ThrottlingException": "Bedrock is throttling this account; retry with backoff",
        "ServiceUnavailableException": "Bedrock is unavailable; retry later",
    }
    return Diagnosis(False, f"{status} {code}", [message, hints.get(code, "see the message")])
