"""Sessions and endpoints for code that builds its own Bedrock clients: pinned, not inherited.

A framework given a boto3 Session makes its clients from it, with its own ``Config``. So the
session itself must hold what the envelope decides, in the places botocore looks first (a
session's instance variables and components):

- the region is the envelope's, so ``AWS_REGION``, ``AWS_DEFAULT_REGION`` and a profile's
  ``region`` are never read;
- ``ignore_configured_endpoint_urls``, so ``AWS_ENDPOINT_URL*`` and a profile's endpoints are not
  either; a client goes where its caller points it, or to the regional default;
- the credentials are the envelope identity's, from a resolver that knows no other;
- no token provider, ``auth_scheme_preference=sigv4``, and a first ``choose-signer`` handler
  that answers SigV4 for Bedrock: botocore reads ``AWS_BEARER_TOKEN_BEDROCK`` straight from the
  environment at each call and prefers it over SigV4 unless the *client's* ``Config`` names a
  signature version, which a framework's own ``Config`` does not;
- the endpoint: a ``bedrock-runtime`` or ``bedrock`` client made with no ``endpoint_url`` goes to
  the job's endpoint (or its control-plane sibling), as ``bedrock_client()`` does. One pointed
  elsewhere is refused (``EndpointNotAllowed``) unless ``BATON_ALLOWED_ENDPOINTS`` admits it:
  when it is made, and again at botocore's ``before-send`` for every request of a Bedrock
  client built on this session any other way (``session._session.create_client``), so nothing
  leaves the process for an endpoint the worker does not allow.

Its clients are paced with the fleet (``workers.pacing``): a client made from the session
inherits the session's handlers.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import Credentials

from envelope import parse_endpoint
from workers import pacing
from workers.allowlist import EndpointAllowlist, client_endpoint_refusal
from workers.errors import EndpointNotAllowed

#: Runtime hosts of AWS and the control-plane host beside each (FIPS included).
_CONTROL_HOSTS = {"bedrock-runtime": "bedrock", "bedrock-runtime-fips": "bedrock-fips"}


class _OnlyThese:
    """A credential resolver that answers with one identity's credentials and nothing else."""

    def __init__(self, credentials: Credentials) -> None:
        self._credentials = credentials

    def load_credentials(self) -> Credentials:
        return self._credentials


def _sigv4_for_bedrock(signing_name: str = "", **_: Any) -> str | None:
    """Answer ``choose-signer`` for Bedrock (both planes sign as ``bedrock``) before botocore's
    own handler can pick the bearer token; other services keep botocore's choice."""
    return "v4" if signing_name == "bedrock" else None


class _NoToken:
    """A token resolver that never finds a bearer token, whatever the environment holds."""

    def load_token(self, **_: Any) -> None:
        return None


_CLIENT_SIGNATURE = inspect.signature(boto3.Session.client)


@functools.lru_cache(maxsize=64)
def regional_endpoint(service: str, region: str) -> str:
    """The endpoint botocore gives ``service`` in ``region`` when none is named (partition and
    FIPS settings included), from a session of its own: once per process, about 0.1 s."""
    config = Config(ignore_configured_endpoint_urls=True)  # type: ignore[call-arg]
    client = botocore.session.Session().create_client(service, region_name=region, config=config)
    try:
        return str(client.meta.endpoint_url)
    finally:
        client.close()


class EndpointGuard:
    """Where a session's Bedrock clients go by default, and the check on where they may go.

    ``inherited`` holds the job's own endpoints: the envelope's (else the regional default) and
    its control-plane sibling.
    """

    def __init__(
        self,
        *,
        region: str,
        endpoint: str | None,
        allowlist: EndpointAllowlist,
    ) -> None:
        self.region = region
        self.defaults = {"bedrock-runtime": endpoint, "bedrock": control_endpoint(endpoint)}
        self._allowlist = allowlist
        urls = [url or regional_endpoint(service, region) for service, url in self.defaults.items()]
        self.inherited = frozenset(parse_endpoint(url) for url in urls)

    def check(self, url: str, *, service: str = "bedrock-runtime") -> None:
        """Raise EndpointNotAllowed unless a client of this job may call ``url`` for ``service``.

        Every Bedrock service's client carries the job's identity, so each is checked: the
        runtime and control plane against the job's endpoints, any other Bedrock service
        (agents, knowledge bases, data automation) against its own regional default; beyond
        those, only what ``BATON_ALLOWED_ENDPOINTS`` admits."""
        inherited = self.inherited
        if service not in self.defaults:
            inherited = inherited | {parse_endpoint(regional_endpoint(service, self.region))}
        refusal = client_endpoint_refusal(
            self._allowlist, url, region=self.region, inherited=inherited
        )
        if refusal is not None:
            raise EndpointNotAllowed(refusal)

    def before_send(self, request: Any, event_name: str = "", **_: Any) -> None:
        """botocore's ``before-send`` (of every service: ``before-send.<service>.<operation>``):
        a Bedrock service's request is signed and not yet sent."""
        service = event_name.split(".")[1] if event_name.count(".") >= 1 else ""
        if not is_bedrock_service(service):
            return
        scheme, _sep, rest = str(request.url).partition("://")
        authority = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
        self.check(f"{scheme}://{authority}", service=service)


def is_bedrock_service(service: str) -> bool:
    """Tell whether ``service`` (a botocore service name or event id) is one of Bedrock's."""
    return service == "bedrock" or service.startswith("bedrock-")


class PinnedSession(boto3.Session):
    """A boto3 Session whose Bedrock clients go where the job's clients go, or are refused."""

    def __init__(self, core: botocore.session.Session, *, guard: EndpointGuard) -> None:
        super().__init__(botocore_session=core, region_name=guard.region)
        self.baton_guard = guard

    def client(self, *args: Any, **kwargs: Any) -> Any:
        """``boto3.Session.client``, with the job's endpoint filled in for a runtime or control
        client that names none, and any Bedrock client that names an endpoint the worker does
        not allow refused."""
        call = _CLIENT_SIGNATURE.bind(self, *args, **kwargs)
        service = call.arguments["service_name"]
        url = call.arguments.get("endpoint_url")
        if service in self.baton_guard.defaults and url is None:
            call.arguments["endpoint_url"] = self.baton_guard.defaults[service]
        elif is_bedrock_service(service) and url is not None:
            self.baton_guard.check(str(url), service=service)
        return super().client(*call.args[1:], **call.kwargs)


def pinned_session(
    credentials: Credentials,
    *,
    region: str,
    endpoint: str | None = None,
    allowlist: EndpointAllowlist | None = None,
) -> PinnedSession:
    """Return a Session for ``region`` and ``credentials`` that the environment cannot move,
    whose Bedrock clients call ``endpoint`` (None: the regional default) or what ``allowlist``
    admits for ``region`` (None: nothing else)."""
    core = botocore.session.Session()
    core.register_component("credential_provider", _OnlyThese(credentials))
    core.register_component("token_provider", _NoToken())
    core.set_config_variable("region", region)
    core.set_config_variable("ignore_configured_endpoint_urls", True)
    core.set_config_variable("auth_scheme_preference", "sigv4")
    events = core.get_component("event_emitter")
    events.register_first("choose-signer", _sigv4_for_bedrock)
    pacing.attach(events)
    guard = EndpointGuard(
        region=region,
        endpoint=endpoint,
        allowlist=allowlist or EndpointAllowlist(bedrock=False),
    )
    events.register_first("before-send", guard.before_send)  # every service; Bedrock's checked
    return PinnedSession(core, guard=guard)


def control_endpoint(runtime_endpoint: str | None) -> str | None:
    """The ``bedrock`` control-plane endpoint beside the envelope's runtime endpoint.

    None stays None (the regional default). AWS's own runtime host maps to its control-plane
    host; a VPC endpoint of bedrock-runtime serves nothing else, so its region's default is
    used. Any other endpoint (the emulator, a gateway) is taken to serve both planes. The
    endpoint has passed the policy, so it is a strict origin (``envelope.urls``): its host is
    the one written after ``://``, and only that is replaced.
    """
    if runtime_endpoint is None:
        return None
    host = parse_endpoint(runtime_endpoint).host
    if not host.endswith(".amazonaws.com"):
        return runtime_endpoint
    first, _, rest = host.partition(".")
    control = _CONTROL_HOSTS.get(first)
    if control is None:
        return None
    scheme, _, authority = runtime_endpoint.partition("://")
    return f"{scheme}://{control}.{rest}{authority[len(host) :]}"
