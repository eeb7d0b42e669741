"""The anthropic SDK's ``AnthropicBedrock`` clients for the running job.

Usage::

    from workers import anthropic_client, current_envelope

    message = anthropic_client().messages.create(
        model=current_envelope().model_id, max_tokens=256, messages=[...]
    )

The SDK takes no boto3 client: given keys it still reads ``AWS_BEARER_TOKEN_BEDROCK`` (and
refuses both together), given none it signs with the worker's own chain, and its base URL falls
back to ``ANTHROPIC_BEDROCK_BASE_URL``. So Baton hands it an explicit region and base URL, and an
HTTP client whose auth signs every request with SigV4 for the envelope's identity, replacing
whatever the SDK put in ``Authorization``. Assumed-role credentials are read per request, so a
long job follows their renewal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from workers import pacing
from workers.context import require_job
from workers.integrations.pinning import missing_sdk, refuse_pinned

if TYPE_CHECKING:
    from anthropic import AnthropicBedrock, AsyncAnthropicBedrock
    from botocore.credentials import Credentials

#: The SDK's own auth is bypassed with this placeholder key; ``SigV4Signer`` replaces it.
_PLACEHOLDER_KEY = "baton-signs-with-sigv4"

#: Headers the signer rewrites: the SDK's, a proxy's or a previous signature's.
_AUTH_HEADERS = ("authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256")

#: Arguments that would undo the pinning; everything else goes to the SDK's constructor.
_PINNED = frozenset(
    {"aws_region", "aws_profile", "aws_access_key", "aws_secret_key", "aws_session_token"}
    | {"api_key", "base_url", "http_client"}
)


class SigV4Signer:
    """An httpx ``auth`` callable: SigV4 for ``bedrock`` in one region, one identity."""

    def __init__(self, credentials: Credentials, *, region: str) -> None:
        self._credentials = credentials
        self._region = region

    def __call__(self, request: Any) -> Any:
        for name in _AUTH_HEADERS:
            request.headers.pop(name, None)
        signed = AWSRequest(
            method=request.method,
            url=str(request.url),
            headers={k: v for k, v in request.headers.items() if k.lower() != "connection"},
            data=request.read(),
        )
        frozen = self._credentials.get_frozen_credentials()
        SigV4Auth(frozen, "bedrock", self._region).add_auth(signed)
        for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
            if name in signed.headers:
                request.headers[name] = signed.headers[name]
        return request


def _options(kwargs: dict[str, Any]) -> tuple[SigV4Signer, dict[str, Any]]:
    refuse_pinned(
        kwargs,
        _PINNED,
        call="the anthropic client",
        others="timeout, max_retries, default_headers...",
    )
    job = require_job()
    envelope, clients = job.envelope, job.runtime.clients
    signer = SigV4Signer(clients.credentials(envelope), region=envelope.region)
    options = {
        "aws_region": envelope.region,
        # The pinned client's endpoint: the envelope's, else the region's in its partition.
        "base_url": clients.get(envelope).meta.endpoint_url,
        "api_key": _PLACEHOLDER_KEY,
        **kwargs,
    }
    return signer, options


def anthropic_client(**kwargs: Any) -> AnthropicBedrock:
    """Return an ``AnthropicBedrock`` for the running job's region, endpoint and identity.

    Keyword arguments go to the SDK (``timeout``, ``max_retries``...), except the region,
    endpoint and credential ones, which the envelope decides.
    """
    signer, options = _options(kwargs)
    try:
        from anthropic import AnthropicBedrock, DefaultHttpxClient
    except ImportError as exc:
        raise missing_sdk("anthropic", extra="anthropic", call="anthropic_client()") from exc
    http_client = DefaultHttpxClient(auth=signer, event_hooks=pacing.httpx_hooks())
    return AnthropicBedrock(http_client=http_client, **options)


def async_anthropic_client(**kwargs: Any) -> AsyncAnthropicBedrock:
    """Return an ``AsyncAnthropicBedrock``, pinned as :func:`anthropic_client` is."""
    signer, options = _options(kwargs)
    try:
        from anthropic import AsyncAnthropicBedrock, DefaultAsyncHttpxClient
    except ImportError as exc:
        raise missing_sdk("anthropic", extra="anthropic", call="async_anthropic_client()") from exc
    http_client = DefaultAsyncHttpxClient(auth=signer, event_hooks=pacing.async_httpx_hooks())
    return AsyncAnthropicBedrock(http_client=http_client, **options)
