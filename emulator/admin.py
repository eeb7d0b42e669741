"""The emulator's own admin endpoints, under ``/_baton/``: unsigned and never journaled.

They let a test, a benchmark or a separate process look inside a running emulator and steer it
without a restart:

``GET /_baton/calls``, ``DELETE /_baton/calls``
    The journal as JSON (oldest first), or clear it.
``GET /_baton/faults``, ``POST /_baton/faults``, ``DELETE /_baton/faults``
    The fault settings in force; change some of them (a JSON object of
    :class:`~emulator.faults.FaultSettings` fields, plus an optional integer ``seed`` to restart
    the random sequence); or switch every fault off. POST and DELETE answer with the new settings.
``GET /_baton/quotas``, ``POST /_baton/quotas``, ``DELETE /_baton/quotas``
    The per-model quota in force (:class:`~emulator.quotas.QuotaSettings`); change some of its
    fields (a JSON object; ``null`` lifts a quota); or lift every quota. Each change starts every
    key again with full buckets. POST and DELETE answer with the new settings.
``GET /_baton/sessions``
    The temporary credentials STS has issued, oldest first: access key, assumed-role ARN and
    expiry, never the secret or the token. A test maps a journaled key to its session with it.
"""

from __future__ import annotations

import json

from emulator.credentials import CredentialTable
from emulator.errors import ConfigurationError
from emulator.faults import FaultInjector, FaultSettings
from emulator.journal import Journal
from emulator.quotas import QuotaBook, QuotaSettings
from emulator.responses import encode_json, json_response
from emulator.server import Request, Response

#: Every admin path starts with this; no Bedrock operation does.
ADMIN_PREFIX = "/_baton/"
#: GET lists the journal, DELETE clears it.
CALLS_PATH = "/_baton/calls"
#: GET shows the fault settings, POST changes some of them, DELETE switches them all off.
FAULTS_PATH = "/_baton/faults"
#: GET shows the quota, POST changes some of its fields, DELETE lifts it.
QUOTAS_PATH = "/_baton/quotas"
#: GET lists the temporary credentials issued by STS, without secrets.
SESSIONS_PATH = "/_baton/sessions"


def _refusal(status: int, message: str, *allow: str) -> Response:
    headers = [("Content-Type", "application/json")]
    if allow:
        headers.append(("Allow", ", ".join(allow)))
    return Response(status, encode_json({"message": message}), tuple(headers))


class Admin:
    """Answer the admin paths from the journal, fault injector and credentials the service uses."""

    def __init__(
        self,
        journal: Journal,
        faults: FaultInjector,
        credentials: CredentialTable | None = None,
        quotas: QuotaBook | None = None,
    ) -> None:
        self._journal = journal
        self._faults = faults
        self._credentials = credentials if credentials is not None else CredentialTable()
        self._quotas = quotas if quotas is not None else QuotaBook()

    def __call__(self, request: Request) -> Response:
        """Answer one admin request; anything unknown is a JSON 404 or 405, never an exception."""
        if request.path == CALLS_PATH:
            return self._calls(request)
        if request.path == FAULTS_PATH:
            return self._faults_endpoint(request)
        if request.path == QUOTAS_PATH:
            return self._quotas_endpoint(request)
        if request.path == SESSIONS_PATH:
            if request.method != "GET":
                return _refusal(405, f"{SESSIONS_PATH} supports GET only", "GET")
            return json_response(self._credentials.issued())
        return _refusal(
            404,
            f"no admin path {request.path}; try {CALLS_PATH}, {FAULTS_PATH}, {QUOTAS_PATH} or "
            f"{SESSIONS_PATH}",
        )

    def _calls(self, request: Request) -> Response:
        if request.method == "GET":
            return json_response([call.as_dict() for call in self._journal.calls()])
        if request.method == "DELETE":
            return json_response({"cleared": self._journal.clear()})
        return _refusal(405, f"{CALLS_PATH} supports GET and DELETE only", "GET", "DELETE")

    def _faults_endpoint(self, request: Request) -> Response:
        if request.method == "GET":
            return json_response(self._faults.settings.as_dict())
        if request.method == "DELETE":
            self._faults.configure(FaultSettings())
            return json_response(self._faults.settings.as_dict())
        if request.method != "POST":
            return _refusal(
                405, f"{FAULTS_PATH} supports GET, POST and DELETE", "GET", "POST", "DELETE"
            )
        try:
            changes = json.loads(request.body or b"{}")
            if not isinstance(changes, dict):
                raise ConfigurationError("the body must be a JSON object of fault settings")
            seed = changes.pop("seed", None)
            if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
                raise ConfigurationError(f"seed must be an integer, not {seed!r}")
            self._faults.configure(self._faults.settings.updated(changes), seed=seed)
        except (ValueError, ConfigurationError) as exc:
            return _refusal(400, str(exc))
        return json_response(self._faults.settings.as_dict())

    def _quotas_endpoint(self, request: Request) -> Response:
        if request.method == "GET":
            return json_response(self._quotas.settings.as_dict())
        if request.method == "DELETE":
            self._quotas.configure(QuotaSettings())
            return json_response(self._quotas.settings.as_dict())
        if request.method != "POST":
            return _refusal(
                405, f"{QUOTAS_PATH} supports GET, POST and DELETE", "GET", "POST", "DELETE"
            )
        try:
            changes = json.loads(request.body or b"{}")
            if not isinstance(changes, dict):
                raise ConfigurationError("the body must be a JSON object of quota settings")
            self._quotas.configure(self._quotas.settings.updated(changes))
        except (ValueError, ConfigurationError) as exc:
            return _refusal(400, str(exc))
        return json_response(self._quotas.settings.as_dict())
