"""AWS-shaped JSON responses, for results and for refusals.

botocore reads an error's code from the ``x-amzn-ErrorType`` header and its message from the
body's ``message`` (or ``Message``) key, so both are set exactly as Bedrock sets them; that is
what makes a refusal surface in boto3 as a ``ClientError`` with the right code and text.
"""

from __future__ import annotations

import json
import uuid

from emulator.errors import ServiceError
from emulator.server import Response

JSON_CONTENT_TYPE = "application/json"


def request_id() -> str:
    """Return a fresh request ID, which botocore surfaces as ``ResponseMetadata.RequestId``."""
    return str(uuid.uuid4())


def encode_json(payload: object) -> bytes:
    """Encode compactly and as UTF-8, keeping characters such as ’ as they are."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def json_response(
    payload: object,
    *,
    status: int = 200,
    rid: str | None = None,
    extra_headers: tuple[tuple[str, str], ...] = (),
) -> Response:
    """Return ``payload`` as a JSON response carrying a request ID."""
    headers = (
        ("Content-Type", JSON_CONTENT_TYPE),
        ("x-amzn-RequestId", rid or request_id()),
        *extra_headers,
    )
    return Response(status, encode_json(payload), headers)


def error_response(error: ServiceError, *, rid: str | None = None) -> Response:
    """Return ``error`` as Bedrock sends it: status, ``x-amzn-ErrorType`` and a JSON body."""
    return json_response(
        {error.body_key: error.message},
        status=error.status,
        rid=rid,
        extra_headers=(("x-amzn-ErrorType", error.error_type), *error.headers),
    )
