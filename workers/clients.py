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
from typing import TYPE_CHECKING

from botocore.config import Config

from envelope import BedrockEnvelope
from workers import metrics
from workers.identity import Identities

if TYPE_CHECKING:
    from types_boto3_bedrock_runtime import BedrockRuntimeClient

_HITS = metrics.CLIENT_CACHE.labels(event="hit")
_MISSES = metrics.CLIENT_CACHE.labels(event="miss")
_EVICTIONS = metrics.CLIENT_CACHE.labels(event="eviction")

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
        self.builds = 0
        self.evictions = 0
        os.register_at_fork(after_in_child=self.clear)

    def __len__(self) -> int:
        return len(self._clients)

    def clear(self) -> None:
        """Forget every client and session: sockets and sessions must not cross a fork."""
        self._clients = OrderedDict()
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
        return client
