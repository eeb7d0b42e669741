"""Per-process cache of bedrock-runtime clients, built only from envelopes.

A client depends on region, endpoint, identity and client settings: the envelope's
``client_fingerprint``. Lineage and expiry are left out, so a whole tree shares one client. Every
setting a worker's environment could inject is pinned in code:

- ``region_name`` is always passed (boto3 ignores ``AWS_REGION`` and would read
  ``AWS_DEFAULT_REGION``);
- ``ignore_configured_endpoint_urls`` shuts off ``AWS_ENDPOINT_URL*`` and the config file, so only
  the envelope's endpoint is used;
- ``signature_version="v4"`` pins SigV4, so an ambient ``AWS_BEARER_TOKEN_BEDROCK`` cannot take
  over the auth scheme.
"""

from __future__ import annotations

import functools
import os
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, NamedTuple

from botocore.config import Config

from envelope import BedrockEnvelope
from workers import metrics, pacing
from workers.allowlist import EndpointAllowlist
from workers.errors import IdentityUnavailable
from workers.identity import Identities
from workers.sessions import control_endpoint, pinned_session

if TYPE_CHECKING:
    import boto3
    from botocore.credentials import Credentials
    from types_boto3_bedrock import BedrockClient
    from types_boto3_bedrock_runtime import BedrockRuntimeClient

_HITS = metrics.CLIENT_CACHE.labels(event="hit")
_MISSES = metrics.CLIENT_CACHE.labels(event="miss")
_EVICTIONS = metrics.CLIENT_CACHE.labels(event="eviction")


class FrozenCredentials(NamedTuple):
    """An identity's keys at one moment: botocore's ``ReadOnlyCredentials``, checked complete."""

    access_key: str
    secret_key: str
    token: str | None


#: Appended to the User-Agent so Bedrock-side logs can tell Baton's calls apart.
USER_AGENT_EXTRA = "baton/0.1"


def client_config(envelope: BedrockEnvelope, *, max_pool_connections: int) -> Config:
    """Return the botocore Config for ``envelope``: nothing left for the environment to fill."""
    settings = envelope.client
    return Config(
        region_name=envelope.region,
        signature_version="v4",
        ignore_configured_endpoint_urls=True,  # type: ignore[call-arg]  # stubs lag botocore
        max_pool_connections=max_pool_connections,
        retries={"mode": settings.retry_mode, "total_max_attempts": settings.max_attempts},
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        user_agent_extra=USER_AGENT_EXTRA,
    )


class ClientCache:
    """A bounded LRU of clients keyed by client fingerprint, emptied in a forked child."""

    def __init__(
        self, *, max_pool_connections: int, max_size: int, seal_key: bytes | None = None
    ) -> None:
        self._max_pool_connections = max_pool_connections
        self._max_size = max_size
        self._clients: OrderedDict[tuple[object, ...], BedrockRuntimeClient] = OrderedDict()
        self.identities = Identities(seal_key=seal_key)
        self._lock = threading.Lock()
        self._controls: dict[tuple[object, ...], BedrockClient] = {}
        self._per_thread = threading.local()
        self.builds = 0
        self.evictions = 0
        os.register_at_fork(after_in_child=self.clear)

    def __len__(self) -> int:
        return len(self._clients)

    def resize(self, *, max_pool_connections: int) -> None:
        """Give clients built from now on at least ``max_pool_connections`` connections each:
        one per task slot of the worker, whose concurrency is known only as it starts."""
        self._max_pool_connections = max(self._max_pool_connections, max_pool_connections)

    @property
    def max_pool_connections(self) -> int:
        """Connections each client built from now on may keep open."""
        return self._max_pool_connections

    def clear(self) -> None:
        """Forget every client and session: sockets and sessions must not cross a fork."""
        self._clients = OrderedDict()
        self._controls = {}
        self._per_thread = threading.local()
        self.identities.clear()
        self._lock = threading.Lock()

    def get(self, envelope: BedrockEnvelope) -> BedrockRuntimeClient:
        """Return the client for ``envelope``, building it once per process and fingerprint."""
        key = envelope.client_fingerprint
        client = self._clients.get(key)
        if client is not None:
            try:  # noqa: SIM105 - suppress() would cost a context manager per job
                self._clients.move_to_end(key)
            except KeyError:  # another thread evicted it meanwhile; this job still has it
                pass
            _HITS.inc()
            return client
        with self._lock:
            client = self._clients.get(key)
            if client is not None:
                _HITS.inc()  # another thread built it while this one waited
            else:
                _MISSES.inc()
                client = self._build(envelope)
                self._clients[key] = client
                self._evict()
                metrics.CLIENT_CACHE_SIZE.set(len(self._clients))
            return client

    def credentials(self, envelope: BedrockEnvelope) -> Credentials:
        """Return the credentials of the envelope's identity (refreshable where they expire)."""
        with self._lock:
            credentials = self.identities.session(envelope).get_credentials()
        if credentials is None:
            raise IdentityUnavailable(
                f"the envelope's identity ({envelope.auth.mode}) found no AWS credentials on "
                "this worker; give the worker credentials or have the parent use another mode"
            )
        return credentials

    def frozen_credentials(self, envelope: BedrockEnvelope) -> FrozenCredentials:
        """Return the identity's credentials as they are now, checked complete."""
        frozen = self.credentials(envelope).get_frozen_credentials()
        if not frozen.access_key or not frozen.secret_key:
            raise IdentityUnavailable(
                f"the envelope's identity ({envelope.auth.mode}) has incomplete credentials on "
                "this worker (no access key or secret key)"
            )
        return FrozenCredentials(frozen.access_key, frozen.secret_key, frozen.token)

    def session(
        self, envelope: BedrockEnvelope, *, allowlist: EndpointAllowlist | None = None
    ) -> boto3.Session:
        """Return this thread's pinned session for the envelope's identity, region and endpoint;
        its Bedrock clients may call the envelope's endpoints and what ``allowlist`` admits.

        One per thread, because boto3 sessions are not thread-safe; the credentials behind it
        are the process's, so a whole tree shares one assumed role.
        """
        key = (envelope.region, envelope.endpoint_url, envelope.client_fingerprint[2])
        sessions: dict[object, boto3.Session] | None = getattr(self._per_thread, "sessions", None)
        if sessions is None:
            sessions = self._per_thread.sessions = {}
        session = sessions.get(key)
        if session is None:
            session = pinned_session(
                self.credentials(envelope),
                region=envelope.region,
                endpoint=envelope.endpoint_url,
                allowlist=allowlist,
            )
            sessions[key] = session
        return session

    def control(self, envelope: BedrockEnvelope) -> BedrockClient:
        """Return the ``bedrock`` control-plane client pinned like the runtime client."""
        key = envelope.client_fingerprint
        client = self._controls.get(key)
        if client is None:
            with self._lock:
                client = self._controls.get(key)
                if client is None:
                    session = self.identities.session(envelope)
                    client = session.client(
                        "bedrock",
                        region_name=envelope.region,
                        endpoint_url=control_endpoint(envelope.endpoint_url),
                        config=client_config(
                            envelope, max_pool_connections=self._max_pool_connections
                        ),
                    )
                    self._controls[key] = client
                    while len(self._controls) > self._max_size:
                        self._controls.pop(next(iter(self._controls))).close()
        return client

    def _evict(self) -> None:
        while len(self._clients) > self._max_size:
            _, client = self._clients.popitem(last=False)
            client.close()
            self.evictions += 1
            _EVICTIONS.inc()

    def _build(self, envelope: BedrockEnvelope) -> BedrockRuntimeClient:
        session = self.identities.session(envelope)
        config = client_config(envelope, max_pool_connections=self._max_pool_connections)
        self.builds += 1
        client = session.client(
            "bedrock-runtime",
            region_name=envelope.region,
            endpoint_url=envelope.endpoint_url,
            config=config,
        )
        observer = functools.partial(metrics.observe_bedrock_call, region=envelope.region)
        client.meta.events.register("after-call.bedrock-runtime", observer)
        pacing.attach(client.meta.events)
        return client
