"""The emulated service: one pure handler from :class:`Request` to :class:`Response`.

Every Bedrock call is judged in the order real Bedrock judges it, so the first problem a client
has is the one it is told about: signature (403), then the IAM policy (403 AccessDenied), then
the model ID (400), then any injected fault (429, 503, 424, a delay or a dropped connection),
and only then the operation itself. Each call is journaled with what was decided. ``POST /``
is STS (:mod:`emulator.sts`), whose temporary keys are accepted from then on. Paths under
``/_baton/`` are the emulator's own admin endpoints (:mod:`emulator.admin`): unsigned, never
journaled.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from urllib.parse import unquote

from emulator.access import ACTIONS, AccessPolicy, Grant
from emulator.admin import ADMIN_PREFIX, Admin
from emulator.control import get_inference_profile, list_inference_profiles, profile_resource
from emulator.credentials import IDENTITIES, CredentialTable, Identity
from emulator.errors import ServiceError, Throttling, UnknownOperation
from emulator.faults import DROPPED_ERROR_CODE, FaultInjector
from emulator.identifiers import validate_model_id
from emulator.journal import Call, Journal
from emulator.profiles import ProfileRegistry
from emulator.quotas import QuotaBook, reserved_tokens, used_tokens
from emulator.responses import error_response
from emulator.runtime import OPERATIONS as SINGLE_OPERATIONS
from emulator.runtime import Invocation
from emulator.server import Request, Response
from emulator.sigv4 import Authorization, parse_authorization
from emulator.streaming import converse_stream, invoke_model_with_response_stream
from emulator.sts import SecurityTokenService, is_sts_request

#: Every runtime operation the emulator serves, by the name it is journaled under.
OPERATIONS: dict[str, Callable[[Invocation], Response]] = {
    **SINGLE_OPERATIONS,
    "ConverseStream": converse_stream,
    "InvokeModelWithResponseStream": invoke_model_with_response_stream,
}
#: The last path segment of each Bedrock runtime operation that takes a model ID; CountTokens
#: is named so that a client calling it is told it is not served, rather than "unknown path".
_OPERATION_SEGMENTS = {
    "converse": "Converse",
    "invoke": "InvokeModel",
    "converse-stream": "ConverseStream",
    "invoke-with-response-stream": "InvokeModelWithResponseStream",
    "count-tokens": "CountTokens",
}
_PROFILES_PATH = "/inference-profiles"


@dataclass(frozen=True, slots=True)
class Route:
    """Which operation a request names, and for which model or profile (URL-decoded)."""

    operation: str | None
    model_id: str | None


def route(request: Request) -> Route:
    """Read the operation from ``POST /model/{id}/{op}`` or ``GET /inference-profiles[/{id}]``."""
    if request.path.startswith("/model/"):
        encoded, _, segment = request.path[len("/model/") :].rpartition("/")
        operation = _OPERATION_SEGMENTS.get(segment) if request.method == "POST" else None
        return Route(operation, unquote(encoded) if encoded else None)
    if request.method == "GET" and request.path == _PROFILES_PATH:
        return Route("ListInferenceProfiles", None)
    if request.method == "GET" and request.path.startswith(_PROFILES_PATH + "/"):
        identifier = unquote(request.path[len(_PROFILES_PATH) + 1 :])
        return Route("GetInferenceProfile" if identifier else None, identifier or None)
    return Route(None, None)


class BedrockService:
    """The handler the HTTP server calls for every request.

    Args:
        policy: the IAM policy every identity gets, with the profiles it resolves.
        journal: where each call is recorded.
        faults: what to inject into runtime calls that pass every check.
        profiles: the inference profiles the control plane lists.
        identities: the long-term access keys; the documented test pairs by default.
        denied_roles: role ARNs STS refuses to let anyone assume (``--deny-assume``).
        quotas: the per-model requests and tokens per minute; none by default.
        clock: the time source for the signature's date check and credential expiry.
    """

    def __init__(
        self,
        *,
        policy: AccessPolicy,
        journal: Journal,
        faults: FaultInjector,
        profiles: ProfileRegistry,
        identities: Mapping[str, Identity] = IDENTITIES,
        denied_roles: frozenset[str] = frozenset(),
        quotas: QuotaBook | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._policy = policy
        self._journal = journal
        self._faults = faults
        self._profiles = profiles
        self._credentials = CredentialTable(identities)
        self._sts = SecurityTokenService(
            credentials=self._credentials, denied_roles=denied_roles, clock=clock
        )
        self._quotas = quotas if quotas is not None else QuotaBook()
        self._admin = Admin(journal, faults, self._credentials, self._quotas)
        self._clock = clock

    @property
    def faults(self) -> FaultInjector:
        """Return the injector, so faults can be changed while serving."""
        return self._faults

    @property
    def quotas(self) -> QuotaBook:
        """Return the quota book, so quotas can be changed while serving."""
        return self._quotas

    @property
    def credentials(self) -> CredentialTable:
        """Return the keys accepted, including the temporary ones STS has issued."""
        return self._credentials

    def __call__(self, request: Request) -> Response:
        """Answer one request; never raises for anything a client can send."""
        if request.path.startswith(ADMIN_PREFIX):
            return self._admin(request)
        authorization = parse_authorization(request)
        if is_sts_request(request):
            return self._security_token(request, authorization)
        target = route(request)
        response, error_code = self._answer(request, target, authorization)
        message = _throttle_message(response) if error_code == "ThrottlingException" else None
        self._record(
            authorization, target.operation, target.model_id, response, error_code, message=message
        )
        return response

    def _security_token(self, request: Request, authorization: Authorization) -> Response:
        """Answer an STS request and journal it under its action, with the role as resource."""
        answer = self._sts(request, authorization)
        self._record(
            authorization, answer.action, answer.role_arn, answer.response, answer.error_code
        )
        return answer.response

    def _record(
        self,
        authorization: Authorization,
        operation: str | None,
        resource: str | None,
        response: Response,
        error_code: str | None,
        *,
        message: str | None = None,
    ) -> None:
        """Journal one answered call under the region and key its signature claimed."""
        scope = authorization.scope
        self._journal.record(
            Call(
                operation=operation,
                region=scope.region if scope else None,
                model_id=resource,
                access_key_id=scope.access_key_id if scope else None,
                auth=authorization.scheme,
                status=response.status,
                error_code=error_code,
                at=self._clock(),
                message=message,
            )
        )

    def _answer(
        self, request: Request, target: Route, authorization: Authorization
    ) -> tuple[Response, str | None]:
        try:
            scope, identity = self._credentials.authenticate(
                request, authorization, now=self._clock()
            )
            if target.operation in ("ListInferenceProfiles", "GetInferenceProfile"):
                return self._control(request, target, identity, scope.region), None
            operation, model_id = self._admit(request, target, identity, scope.region)
        except ServiceError as error:
            return error_response(error), error.error_type
        return self._run(operation, Invocation(model_id, scope.region, request.body))

    def _admit(
        self, request: Request, target: Route, identity: Identity, region: str
    ) -> tuple[Callable[[Invocation], Response], str]:
        """Check the policy, then the model ID; return the operation to run and its model."""
        operation = OPERATIONS.get(target.operation or "")
        if operation is None or target.model_id is None:
            raise UnknownOperation(_unknown_operation_message(request, target))
        action = ACTIONS[target.operation or ""]
        self._policy.authorize_invocation(identity, action, target.model_id, region=region)
        validate_model_id(
            target.model_id, region=region, account_id=identity.account_id, profiles=self._profiles
        )
        return operation, target.model_id

    def _run(
        self, operation: Callable[[Invocation], Response], invocation: Invocation
    ) -> tuple[Response, str | None]:
        """Admit the call against its quota, draw its fault, then answer: a 429, the fault's
        error, no answer, or the real one; the quota's reservation is settled when it leaves."""
        quota = self._quotas.settings
        try:
            admission = (
                self._quotas.admit(
                    region=invocation.region,
                    model_id=invocation.model_id,
                    reserved_tokens=reserved_tokens(
                        invocation.body, max_output_tokens=quota.max_output_tokens
                    ),
                )
                if quota.active
                else None
            )
        except Throttling as error:
            return error_response(error), error.error_type
        fault = self._faults.draw()
        if fault.drop:
            self._quotas.settle(admission, used_tokens=0, after=fault.delay)
            return Response(0, delay=fault.delay, drop=True), DROPPED_ERROR_CODE
        try:
            if fault.error is not None:
                raise fault.error
            if fault.delay:
                invocation = replace(invocation, latency_ms=round(fault.delay * 1000))
            response, error_code = operation(invocation), None
        except ServiceError as error:
            response, error_code = error_response(error), error.error_type
        if admission is not None:
            used = _usage(response)
            self._quotas.settle(
                admission,
                used_tokens=admission.reserved_tokens
                if used is None
                else used_tokens(used, burndown=quota.output_burndown),
                after=fault.delay,
            )
        return (replace(response, delay=fault.delay) if fault.delay else response), error_code

    def _control(
        self, request: Request, target: Route, identity: Identity, region: str
    ) -> Response:
        account = identity.account_id
        action = ACTIONS[target.operation or ""]
        if target.model_id is None:
            self._policy.authorize_read(identity, action, Grant("*", region))
            return list_inference_profiles(
                request.query, profiles=self._profiles, region=region, account_id=account
            )
        resource = profile_resource(target.model_id, region=region, account_id=account)
        self._policy.authorize_read(identity, action, Grant(resource, region))
        return get_inference_profile(
            target.model_id, profiles=self._profiles, region=region, account_id=account
        )


def _usage(response: Response) -> dict[str, object] | None:
    """Return the ``usage`` of a JSON answer (Converse, InvokeModel); None for a stream, which
    is settled at its reservation, or an error, which used nothing (an empty usage)."""
    if response.chunks is not None:
        return None
    if response.status != 200:
        return {}
    try:
        usage = json.loads(response.body).get("usage")
    except (ValueError, AttributeError):
        return {}
    return usage if isinstance(usage, dict) else {}


def _throttle_message(response: Response) -> str | None:
    try:
        message = json.loads(response.body).get("message")
    except (ValueError, AttributeError):
        return None
    return message if isinstance(message, str) else None


def _unknown_operation_message(request: Request, target: Route) -> str:
    served = "Converse, ConverseStream, InvokeModel and InvokeModelWithResponseStream"
    if target.operation is not None:
        return f"{target.operation} is not served by the Baton emulator; it serves {served}."
    return (
        f"{request.method} {request.path} names no Bedrock operation; the emulator serves "
        f"{served} (POST /model/{{modelId}}/...), and GET /inference-profiles[/{{id}}]."
    )
