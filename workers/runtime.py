"""What one worker process holds: its settings, keys, policy and client cache.

Built once per process from ``WorkerSettings`` and attached to the app; the gate and the hooks read
it. Nothing about a job lives here: jobs carry their own configuration.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from functools import cached_property
from typing import Any

from envelope import (
    BINDING_KEY,
    DEFAULT_CLOCK_SKEW_SECONDS,
    EMBEDDED,
    HEADER_KEY,
    BatonError,
    BedrockEnvelope,
    EnvelopeMissing,
    EnvelopeUnknownKey,
    Keyring,
    SealedAuth,
    SealKeyInvalid,
    binding_expires,
    binding_group,
    binding_retries,
    check_binding,
    decode,
    decode_seal_key,
    encode,
    key_id,
    verify_signature,
)
from fleet import Governor, Settlements, Turns
from workers.agents import AgentRegistry
from workers.allowlist import EndpointAllowlist, FleetPolicy
from workers.arrival import misplaced
from workers.ceilings import Ceilings
from workers.clients import ClientCache
from workers.context import Job, embedded_tokens
from workers.errors import IdentityUnavailable, WorkerMisconfigured
from workers.settings import WorkerSettings

logger = logging.getLogger("baton.worker")

#: Verified tokens kept per process; equal token strings carry the same checked signature.
VERIFIED_TOKENS_CACHED = 4096


def request_header(request: Any, key: str) -> str | None:
    """Read a Baton header of a task request: the attribute first, then ``headers``.

    A worker delivery sets the attribute; eager runs and some integrations fill only
    ``request.headers``.
    """
    value = getattr(request, key, None)
    if value:
        return str(value)
    headers = getattr(request, "headers", None) or {}
    value = headers.get(key) or (headers.get("headers") or {}).get(key)
    return str(value) if value else None


def envelope_token(request: Any) -> str | None:
    """Read the envelope header of a task request."""
    return request_header(request, HEADER_KEY)


def _seal_key(settings: WorkerSettings) -> bytes | None:
    """Decode ``BATON_SEAL_KEY`` (base64url of 32 bytes), or None when unset."""
    if settings.seal_key is None:
        return None
    try:
        return decode_seal_key(settings.seal_key.get_secret_value())
    except SealKeyInvalid as exc:
        raise WorkerMisconfigured(str(exc)) from exc


class WorkerRuntime:
    """Per-process state of a Baton worker."""

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self.clients = ClientCache(
            max_pool_connections=settings.max_pool_connections,
            max_size=settings.client_cache_size,
            seal_key=_seal_key(settings),
        )
        self.policy: FleetPolicy | None = None
        self.ceilings = Ceilings(
            max_depth=settings.worker_max_depth,
            max_children=settings.worker_max_children,
            max_turns=settings.worker_max_turns,
            max_jobs=settings.worker_max_jobs,
            max_envelope_lifetime=settings.max_envelope_lifetime,
        )
        self.agents = AgentRegistry.load(directory=settings.agents_dir)
        self.quotas = settings.quota_table
        #: The fleet's Redis (the result backend's client), set by ``workers.celery_app``.
        self.redis: Callable[[], Any] | None = None
        self._turns = Turns()
        self._settlements = Settlements()
        # Ordered so the oldest goes in O(1): popping a plain dict's first key scans the
        # slots its earlier deletions left, about 2.5 µs per job once the memo is full.
        self._verified_tokens: OrderedDict[str, BedrockEnvelope] = OrderedDict()

    def governor(self) -> Governor | None:
        """Return the fleet-wide governor on the fleet's Redis; None when pacing is off
        (``BATON_BEDROCK_PACING=false``) or the results are not in Redis."""
        if not self.settings.bedrock_pacing or self.redis is None:
            return None
        client = self.redis()
        if client is None:
            return None
        # One local queue a process (fleet.turns), whichever client a thread's backend holds:
        # it only keeps a process's waiting calls off Redis if they all wait in it; the same
        # for settlements (fleet.settlements), which only go together if they queue together.
        return Governor(
            client, quotas=self.quotas, turns=self._turns, settlements=self._settlements
        )

    @cached_property
    def keyring(self) -> Keyring:
        """The envelope keys; raises EnvelopeKeyError (a refusal) when none are configured."""
        return self.settings.keyring()

    @cached_property
    def insecure_endpoints(self) -> frozenset[str]:
        """The settings' insecure endpoints, parsed once rather than on every job."""
        return self.settings.insecure_endpoints

    @property
    def endpoint_allowlist(self) -> EndpointAllowlist:
        """``BATON_ALLOWED_ENDPOINTS``: the policy's, else parsed from settings (the settings
        checked it when they were loaded)."""
        if self.policy is not None:
            return self.policy.allowed_endpoints
        return EndpointAllowlist.parse(self.settings.allowed_endpoints)

    def configure_policy(self, consumed_queues: Iterable[str]) -> FleetPolicy:
        """Fix the policy at worker start, from settings or the queues the worker consumes."""
        self.policy = FleetPolicy.for_worker(
            allowed_regions=self.settings.allowed_regions,
            consumed_queues=consumed_queues,
            allowed_endpoints=self.settings.allowed_endpoints,
            insecure_endpoints=self.insecure_endpoints,
        )
        return self.policy

    def admit(self, request: Any, *, task_name: str) -> BedrockEnvelope:
        """Verify the request's envelope, its binding to this very message, and the policy;
        raise a typed error otherwise."""
        token = envelope_token(request)
        if token is None:
            raise EnvelopeMissing(
                f"job {getattr(request, 'id', '?')} carries no {HEADER_KEY} header, so it has no "
                "Bedrock configuration to inherit; enqueue it through orchestrator.Orchestrator "
                "(spawn, or inside `with orch.propagating():`) or from inside a Baton task"
            )
        envelope = self._verified(token)
        self._check_binding(request, token=token, kid=envelope.kid, task_name=task_name)
        auth = envelope.auth
        if type(auth) is SealedAuth and auth.exp < time.time():
            raise IdentityUnavailable(
                f"the sealed credentials expired at {auth.exp}; no job runs on them after that, "
                "even where this worker still has a client built with them; re-run the parent"
            )
        policy = self.policy or self.configure_policy(())
        policy.check(envelope)
        if self.settings.debug:
            logger.info("Using inherited Bedrock region: %s", envelope.region)
            logger.info("Using inherited Bedrock model: %s", envelope.model_id)
            logger.info(
                "Using inherited Bedrock endpoint: %s", envelope.endpoint_url or "regional default"
            )
        return envelope

    def _check_binding(self, request: Any, *, token: str, kid: str, task_name: str) -> None:
        """Raise EnvelopeBindingInvalid unless ``request`` is the message ``token`` was bound to."""
        check_binding(
            self.keyring,
            kid=kid,
            token=token,
            binding=request_header(request, BINDING_KEY),
            task_id=str(request.id),
            task_name=task_name,
            args=request.args,
            kwargs=request.kwargs,
            embedded=[getattr(request, name, None) for name in EMBEDDED],
            group=binding_group(request),
            retries=binding_retries(request),
            expires=binding_expires(request),
        )

    def job(self, request: Any, envelope: BedrockEnvelope) -> Job:
        """The running job of an admitted ``request``: what it may bind is its own token and
        the tokens its verified message embeds."""
        return Job(
            envelope=envelope,
            task_id=str(request.id),
            runtime=self,
            token=envelope_token(request) or "",
            embedded=tuple(getattr(request, name, None) for name in EMBEDDED),
        )

    def binding_problem(self, request: Any, *, task_name: str) -> str | None:
        """Why ``request`` is not provably a key holder's message for its own id, or None when
        it is: its token's signature verifies under a key this worker holds (expired or out of
        policy as it may be) and its binding covers this very message. Never raises.

        Only such a message may have its refusal stored under its id (``workers.refusals``),
        and only when it was taken from its region's queue (``workers.arrival``).
        """
        token = envelope_token(request)
        if token is None:
            return f"it carries no {HEADER_KEY} header"
        try:
            kid = verify_signature(token, keyring=self.keyring)
        except EnvelopeUnknownKey:
            return (
                f"its envelope names key id {key_id(token)!r}, which this worker does not hold "
                "(add it to BATON_ENVELOPE_KEYS, then replay)"
            )
        except BatonError:
            return "its envelope's signature does not verify (edited, or not signed by Baton)"
        try:
            self._check_binding(request, token=token, kid=kid, task_name=task_name)
        except BatonError:
            found = "missing" if request_header(request, BINDING_KEY) is None else "another's"
            return (
                f"its {BINDING_KEY} header is {found} (published without Baton's hooks, or "
                "copied or edited after it was sent)"
            )
        return misplaced(request, token)

    def vouched_tokens(self, request: Any, *, task_name: str) -> frozenset[str] | None:
        """For a refused request: the tokens of its chord body when its binding holds (a key
        holder made this very message), else None. Never raises."""
        if self.binding_problem(request, task_name=task_name) is not None:
            return None
        return frozenset(embedded_tokens(getattr(request, "chord", None)))

    def _verified(self, token: str) -> BedrockEnvelope:
        """Decode and verify ``token``, remembering tokens already verified in this process.

        The same token arrives many times (every child of a turn, every spawn of one parent in
        the same second, retries), and equal strings carry the same verified signature, so only
        the expiry is checked again. Keys live for the process, so a cached token can never
        outlive the key that signed it.
        """
        envelope = self._verified_tokens.get(token)
        if envelope is None:
            envelope = self.ceilings.apply(
                decode(token, keyring=self.keyring, insecure_endpoints=self.insecure_endpoints)
            )
            if len(self._verified_tokens) >= VERIFIED_TOKENS_CACHED:
                try:  # noqa: SIM105 - suppress() would cost a context manager per job
                    self._verified_tokens.popitem(last=False)
                except KeyError:  # another thread emptied it first
                    pass
            self._verified_tokens[token] = envelope
        elif envelope.exp + DEFAULT_CLOCK_SKEW_SECONDS < time.time():
            self._verified_tokens.pop(token, None)  # another thread may have done it
            return decode(  # raises EnvelopeExpired, with its explanation
                token, keyring=self.keyring, insecure_endpoints=self.insecure_endpoints
            )
        return envelope

    def sign(self, envelope: BedrockEnvelope) -> str:
        """Sign an envelope this worker derived (a child's) with its active key."""
        return encode(envelope, keyring=self.keyring)
