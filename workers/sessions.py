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
  signature version, which a framework's own ``Config`` does not.

Its clients are paced with the fleet (``workers.pacing``): a client made from the session
inherits the session's handlers.
"""

from __future__ import annotations

from typing import Any

import boto3
import botocore.session
from botocore.credentials import Credentials

from envelope import parse_endpoint
from workers import pacing

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


def pinned_session(credentials: Credentials, *, region: str) -> boto3.Session:
    """Return a Session for ``region`` and ``credentials`` that the environment cannot move."""
    core = botocore.session.Session()
    core.register_component("credential_provider", _OnlyThese(credentials))
    core.register_component("token_provider", _NoToken())
    core.set_config_variable("region", region)
    core.set_config_variable("ignore_configured_endpoint_urls", True)
    core.set_config_variable("auth_scheme_preference", "sigv4")
    core.get_component("event_emitter").register_first("choose-signer", _sigv4_for_bedrock)
    pacing.attach(core.get_component("event_emitter"))
    return boto3.Session(botocore_session=core, region_name=region)


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
