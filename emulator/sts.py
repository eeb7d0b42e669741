"""A minimal STS: ``AssumeRole`` over the query protocol, issuing keys the emulator then accepts.

Baton's ``assume_role`` identity mode has a worker call ``sts:AssumeRole`` at the envelope's
endpoint before it calls Bedrock, so the emulator answers that one action the way STS does:
``POST /`` with a form-encoded body, SigV4-signed for the service ``sts``, answered in XML. The
temporary credentials it issues (``ASIA...``) join the emulator's credential table under the
identity ``arn:aws:sts::<account>:assumed-role/<role>/<session>``, so a Converse call signed with
them is journaled with their key and a 403 names that identity. Trust is deliberately simple: any
role of the test account may be assumed by any known caller, except the roles named by
``--deny-assume``. Faults are never injected here: they imitate a struggling Bedrock, not STS.
"""

from __future__ import annotations

import base64
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from emulator.credentials import CredentialTable, Identity
from emulator.errors import (
    ExpiredToken,
    IncompleteSignature,
    InvalidAction,
    InvalidSignature,
    MissingAuthenticationToken,
    RoleNotAssumable,
    ServiceError,
    StsValidationError,
    UnrecognizedClient,
)
from emulator.responses import request_id
from emulator.server import Request, Response
from emulator.sigv4 import Authorization

#: The signing name of STS: requests must be scoped to it, not to ``bedrock``.
STS_SERVICE = "sts"
#: The path every STS query-protocol request is sent to; no Bedrock operation uses it.
STS_PATH = "/"
#: The one action served, and the name it is journaled under.
ASSUME_ROLE = "AssumeRole"
#: The XML namespace of STS's 2011-06-15 API, which botocore's query parser expects.
NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
#: STS's bounds on ``DurationSeconds``; one hour when the caller does not say.
DEFAULT_DURATION_SECONDS = 3600
MIN_DURATION_SECONDS = 900
MAX_DURATION_SECONDS = 43200
#: Every secret key and session token issued here contains this, so a secrets scan can find any
#: of them in logs or on a broker without knowing which were issued. Issued secrets keep AWS's
#: length of 40 characters.
ISSUED_SECRET_MARKER = "bAtOnStS"

_SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}")
_ROLE_ARN = re.compile(r"arn:aws:iam::(\d{12}):role/(?:[\w+=,.@-]+/)*([\w+=,.@-]{1,64})")
#: STS spells the authentication failures differently from Bedrock.
_STS_CODES: dict[type[ServiceError], str] = {
    MissingAuthenticationToken: "MissingAuthenticationToken",
    IncompleteSignature: "IncompleteSignature",
    UnrecognizedClient: "InvalidClientTokenId",
    InvalidSignature: "SignatureDoesNotMatch",
    ExpiredToken: "ExpiredToken",
}


@dataclass(frozen=True, slots=True)
class StsAnswer:
    """One STS call as judged: what the journal records, and the response to send."""

    action: str | None
    role_arn: str | None
    response: Response
    error_code: str | None = None


def is_sts_request(request: Request) -> bool:
    """Tell whether ``request`` is addressed to STS: the query protocol posts to ``/``."""
    return request.path == STS_PATH and request.method in ("POST", "GET")


def parameters(request: Request) -> dict[str, str]:
    """Return the query-protocol parameters: the query string, then the form body."""
    found = dict(parse_qsl(request.query, keep_blank_values=True))
    if request.method == "POST" and request.body:
        found.update(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
    return found


def _random_id(prefix: str, length: int) -> str:
    """An AWS-looking identifier: ``prefix`` and upper-case base32 characters."""
    raw = base64.b32encode(secrets.token_bytes(length)).decode("ascii")
    return prefix + raw[: length - len(prefix)]


class SecurityTokenService:
    """Answer STS requests from, and into, one credential table.

    Args:
        credentials: the keys the emulator accepts; issued keys are added to it.
        denied_roles: role ARNs whose trust policy refuses every caller.
        clock: the time source for signatures and expirations.
    """

    def __init__(
        self,
        *,
        credentials: CredentialTable,
        denied_roles: frozenset[str] = frozenset(),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._credentials = credentials
        self._denied = denied_roles
        self._clock = clock

    def __call__(self, request: Request, authorization: Authorization) -> StsAnswer:
        """Authenticate, then run the action; every refusal is an STS-shaped XML error."""
        params = parameters(request)
        action, role_arn = params.get("Action"), params.get("RoleArn")
        try:
            now = self._clock()
            _, caller = self._credentials.authenticate(
                request, authorization, now=now, service=STS_SERVICE
            )
            if action != ASSUME_ROLE:
                raise InvalidAction(
                    f"Could not find operation {action} for version 2011-06-15; the Baton "
                    "emulator serves AssumeRole only"
                )
            response = self._assume_role(caller, params, now=now)
        except ServiceError as error:
            code = _STS_CODES.get(type(error), error.error_type)
            return StsAnswer(action, role_arn, error_xml(error, code=code), code)
        return StsAnswer(action, role_arn, response)

    def _assume_role(self, caller: Identity, params: dict[str, str], *, now: float) -> Response:
        role_arn, session = params.get("RoleArn", ""), params.get("RoleSessionName", "")
        duration = _duration(params.get("DurationSeconds"))
        if not _SESSION_NAME.fullmatch(session):
            raise StsValidationError(
                f"1 validation error detected: Value '{session}' at 'roleSessionName' failed to "
                "satisfy constraint: Member must have length between 2 and 64 and match "
                r"[\w+=,.@-]*"
            )
        matched = _ROLE_ARN.fullmatch(role_arn)
        if matched is None:
            raise StsValidationError(f"{role_arn!r} is not a valid role ARN (RoleArn)")
        if matched.group(1) != caller.account_id or role_arn in self._denied:
            raise RoleNotAssumable(
                f"User: {caller.arn} is not authorized to perform: sts:AssumeRole on resource: "
                f"{role_arn}"
            )
        issued = Identity(
            access_key_id=_random_id("ASIA", 20),
            secret_access_key=ISSUED_SECRET_MARKER + secrets.token_urlsafe(24),
            arn=f"arn:aws:sts::{caller.account_id}:assumed-role/{matched.group(2)}/{session}",
            session_token=f"FwoGZXIvYXdzE{ISSUED_SECRET_MARKER}{secrets.token_urlsafe(96)}",
            expires_at=float(int(now) + duration),
        )
        self._credentials.add(issued)
        return assume_role_xml(issued, role_id=f"{_random_id('AROA', 21)}:{session}")


def _duration(text: str | None) -> int:
    if text is None:
        return DEFAULT_DURATION_SECONDS
    try:
        seconds = int(text)
    except ValueError:
        seconds = -1
    if not MIN_DURATION_SECONDS <= seconds <= MAX_DURATION_SECONDS:
        raise StsValidationError(
            f"1 validation error detected: Value '{text}' at 'durationSeconds' failed to "
            f"satisfy constraint: Member must have value between {MIN_DURATION_SECONDS} and "
            f"{MAX_DURATION_SECONDS}"
        )
    return seconds


def _xml_response(status: int, document: str) -> Response:
    headers = (("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id()))
    return Response(status, document.encode("utf-8"), headers)


def assume_role_xml(issued: Identity, *, role_id: str) -> Response:
    """Return the AssumeRoleResponse document botocore parses into ``Credentials``."""
    expiration = datetime.fromtimestamp(issued.expires_at or 0, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return _xml_response(
        200,
        f'<AssumeRoleResponse xmlns="{NAMESPACE}"><AssumeRoleResult>'
        f"<AssumedRoleUser><Arn>{escape(issued.arn)}</Arn>"
        f"<AssumedRoleId>{escape(role_id)}</AssumedRoleId></AssumedRoleUser>"
        f"<Credentials><AccessKeyId>{issued.access_key_id}</AccessKeyId>"
        f"<SecretAccessKey>{escape(issued.secret_access_key)}</SecretAccessKey>"
        f"<SessionToken>{escape(issued.session_token or '')}</SessionToken>"
        f"<Expiration>{expiration}</Expiration></Credentials>"
        f"</AssumeRoleResult><ResponseMetadata><RequestId>{request_id()}</RequestId>"
        "</ResponseMetadata></AssumeRoleResponse>",
    )


def error_xml(error: ServiceError, *, code: str) -> Response:
    """Return ``error`` as STS sends it: an ErrorResponse document with its status."""
    return _xml_response(
        error.status,
        f'<ErrorResponse xmlns="{NAMESPACE}"><Error><Type>Sender</Type><Code>{code}</Code>'
        f"<Message>{escape(error.message)}</Message></Error>"
        f"<RequestId>{request_id()}</RequestId></ErrorResponse>",
    )
