"""The control-plane reads: ListInferenceProfiles and GetInferenceProfile.

They are how a resolver discovers which profiles exist from a region and where each one routes,
instead of trusting a shipped catalogue that may be stale. botocore's ``bedrock`` client calls
``GET /inference-profiles`` (query ``type``, ``maxResults``, ``nextToken``) and ``GET
/inference-profiles/{id or ARN}``, signed for the ``bedrock`` service like the runtime.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import parse_qs

from emulator.errors import ResourceNotFound, ValidationError
from emulator.profiles import PROFILE_TYPES, SYSTEM_DEFINED, ProfileRegistry
from emulator.responses import json_response
from emulator.server import Response
from envelope import geography_prefix

#: The largest page ListInferenceProfiles returns, as the API documents it.
MAX_RESULTS = 1000
INVALID_TOKEN = "The provided pagination token is invalid. Retry without it to start over."


def profile_resource(identifier: str, *, region: str, account_id: str) -> str:
    """Return the ARN a GetInferenceProfile of ``identifier`` (an ID or ARN) is authorised on."""
    if identifier.startswith("arn:"):
        return identifier
    kind = "inference-profile" if geography_prefix(identifier) else "application-inference-profile"
    return f"arn:aws:bedrock:{region}:{account_id}:{kind}/{identifier}"


def list_inference_profiles(
    query: str, *, profiles: ProfileRegistry, region: str, account_id: str
) -> Response:
    """Answer ListInferenceProfiles: one page of the profiles of one type, SYSTEM_DEFINED first.

    Raises:
        ValidationError: an unknown type, a page size out of 1..1000, or a bad token.
    """
    params = {key: values[-1] for key, values in parse_qs(query).items()}
    kind = params.get("type", params.get("typeEquals", SYSTEM_DEFINED))
    if kind not in PROFILE_TYPES:
        raise ValidationError(
            f"1 validation error detected: Value '{kind}' at 'typeEquals' failed to satisfy "
            f"constraint: Member must satisfy enum value set: [{', '.join(PROFILE_TYPES)}]"
        )
    size = _page_size(params.get("maxResults"))
    start = _offset(params.get("nextToken"))
    found = profiles.listing(region=region, account_id=account_id, kind=kind)
    payload: dict[str, object] = {
        "inferenceProfileSummaries": [profile.as_dict() for profile in found[start : start + size]]
    }
    if start + size < len(found):
        payload["nextToken"] = _token(start + size)
    return json_response(payload)


def get_inference_profile(
    identifier: str, *, profiles: ProfileRegistry, region: str, account_id: str
) -> Response:
    """Answer GetInferenceProfile for a profile ID or ARN, as seen from ``region``.

    Raises:
        ResourceNotFound: no such profile can be called from ``region`` by this account.
    """
    profile = profiles.find(identifier, region=region, account_id=account_id)
    if profile is None:
        raise ResourceNotFound(
            f"The inference profile {identifier} does not exist in {region}. List the profiles "
            "callable from this region with ListInferenceProfiles."
        )
    return json_response(profile.as_dict())


def _page_size(raw: str | None) -> int:
    if raw is None:
        return MAX_RESULTS
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_RESULTS:
        raise ValidationError(
            f"1 validation error detected: Value '{raw}' at 'maxResults' failed to satisfy "
            f"constraint: Member must have value between 1 and {MAX_RESULTS}"
        )
    return int(raw)


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode("ascii")


def _offset(token: str | None) -> int:
    if token is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(token.encode("ascii")).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError):
        raise ValidationError(INVALID_TOKEN) from None
    label, _, number = text.partition(":")
    if label != "offset" or not number.isdigit():
        raise ValidationError(INVALID_TOKEN)
    return int(number)
