"""The emulated service: one pure handler from :class:`Request` to :class:`Response`.

Every Bedrock call is judged in the order real Bedrock judges it, so the first problem a client
has is the one it is told about: signature (403), then the IAM policy (403 AccessDenied), then
the model ID (400), and only then the operation itself. Each call is journaled with what was
decided. ``/_baton/calls`` is the emulator's own admin path: unsigned, never journaled.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from emulator.credentials import IDENTITIES, Identity
from emulator.errors import ServiceError, UnknownOperation
from emulator.identifiers import validate_model_id
from emulator.journal import Call, Journal
from emulator.policy import RegionPolicy, resource_arn
from emulator.responses import encode_json, error_response, json_response, request_id
from emulator.runtime import OPERATIONS, Invocation
from emulator.server import Request, Response
from emulator.sigv4 import Authorization, parse_authorization, verify

#: The admin path: GET lists the journal, DELETE clears it.
CALLS_PATH = "/_baton/calls"

#: The last path segment of each Bedrock runtime operation that takes a model ID.
_OPERATION_SEGMENTS = {
    "converse": "Converse",
    "invoke": "InvokeModel",
    "converse-stream": "ConverseStream",
    "invoke-with-response-stream": "InvokeModelWithResponseStream",
}


@dataclass(frozen=True, slots=True)
class Route:
    """Which operation a request names, and for which model (URL-decoded); None when unknown."""

    operation: str | None
    model_id: str | None


def route(request: Request) -> Route:
    """Read the operation and model ID from ``POST /model/{modelId}/{operation}``."""
    if not request.path.startswith("/model/"):
        return Route(None, None)
    encoded, _, segment = request.path[len("/model/") :].rpartition("/")
    operation = _OPERATION_SEGMENTS.get(segment) if request.method == "POST" else None
    return Route(operation, unquote(encoded) if encoded else None)


class BedrockService:
    """The handler the HTTP server calls for every request.

    Args:
        policy: the region-scoped Allow policy every identity gets.
        journal: where each call is recorded.
        identities: the known access keys; the documented test pairs by default.
        latency: the server's added latency in seconds, reported in Converse metrics.
        clock: the time source for the signature's date check.
    """

    def __init__(
        self,
        *,
        policy: RegionPolicy,
        journal: Journal,
        identities: Mapping[str, Identity] = IDENTITIES,
        latency: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._policy = policy
        self._journal = journal
        self._identities = dict(identities)
        self._secrets = {key: who.secret_access_key for key, who in self._identities.items()}
        self._latency_ms = round(latency * 1000)
        self._clock = clock

    def __call__(self, request: Request) -> Response:
        """Answer one request; never raises for anything a client can send."""
        if request.path == CALLS_PATH:
            return self._admin(request)
        target = route(request)
        authorization = parse_authorization(request)
        rid = request_id()
        error_code = None
        try:
            response = self._invoke(request, target, authorization)
        except ServiceError as error:
            response = error_response(error, rid=rid)
            error_code = error.error_type
        scope = authorization.scope
        self._journal.record(
            Call(
                operation=target.operation,
                region=scope.region if scope else None,
                model_id=target.model_id,
                access_key_id=scope.access_key_id if scope else None,
                auth=authorization.scheme,
                status=response.status,
                error_code=error_code,
            )
        )
        return response

    def _invoke(self, request: Request, target: Route, authorization: Authorization) -> Response:
        scope = verify(request, authorization, secrets=self._secrets, now=self._clock())
        identity = self._identities[scope.access_key_id]
        operation = OPERATIONS.get(target.operation or "")
        if operation is None or target.model_id is None:
            raise UnknownOperation(_unknown_operation_message(request, target))
        resource = resource_arn(
            target.model_id, region=scope.region, account_id=identity.account_id
        )
        self._policy.authorize(identity, resource)
        validate_model_id(target.model_id, region=scope.region)
        return operation(Invocation(target.model_id, scope.region, request.body, self._latency_ms))

    def _admin(self, request: Request) -> Response:
        if request.method == "GET":
            return json_response([call.as_dict() for call in self._journal.calls()])
        if request.method == "DELETE":
            return json_response({"cleared": self._journal.clear()})
        return Response(
            405,
            encode_json({"message": f"{CALLS_PATH} supports GET and DELETE only"}),
            (("Allow", "GET, DELETE"), ("Content-Type", "application/json")),
        )


def _unknown_operation_message(request: Request, target: Route) -> str:
    if target.operation is not None:
        return (
            f"{target.operation} is not served by the Baton emulator; it serves Converse and "
            "InvokeModel."
        )
    return (
        f"{request.method} {request.path} names no Bedrock runtime operation; the emulator serves "
        "POST /model/{modelId}/converse and POST /model/{modelId}/invoke."
    )
