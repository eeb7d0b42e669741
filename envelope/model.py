"""The envelope: a parent's resolved Bedrock configuration, as one frozen model.

A worker builds its client from these fields and nothing else. The model owns its canonical JSON
form (sorted keys, no spaces) because that exact byte string is what gets signed.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from envelope.constants import ENVELOPE_VERSION
from envelope.regions import REGION_PATTERN
from envelope.urls import check_endpoint_url

#: How long a root envelope stays valid. Long enough for a deep agent tree; short enough that a
#: message found in a queue next week is refused, not run.
DEFAULT_TTL_SECONDS = 3600

#: Nested depth a tree may reach unless the parent says otherwise.
DEFAULT_MAX_DEPTH = 3

#: Children one job may start unless the parent says otherwise.
DEFAULT_MAX_CHILDREN = 8

#: Converse turns one job may take: a model that keeps asking for tools stops here.
DEFAULT_MAX_TURNS = 8

#: Subagent jobs one root may start in all, whatever the shape of the tree.
DEFAULT_MAX_JOBS = 256


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AmbientAuth(_Frozen):
    """The worker's own credential chain, used with the envelope's region and endpoint."""

    mode: Literal["ambient"] = "ambient"


class ProfileAuth(_Frozen):
    """A named AWS profile that must exist on the worker."""

    mode: Literal["profile"] = "profile"
    name: str = Field(min_length=1, max_length=128)


class AssumeRoleAuth(_Frozen):
    """A role the worker assumes through STS before calling Bedrock."""

    mode: Literal["assume_role"] = "assume_role"
    role_arn: str = Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")
    external_id: str | None = None
    session_name: str = Field(default="baton", min_length=2, max_length=64)


class SealedAuth(_Frozen):
    """The parent's temporary credentials, sealed (``envelope.seal``); unreadable on the broker.

    ``exp`` is when the seal stops being honoured. It is part of the authenticated data, so it
    cannot be extended, and it does not move when children get fresh envelope windows.
    """

    mode: Literal["sealed"] = "sealed"
    ciphertext: str = Field(min_length=1, max_length=3072, repr=False)
    exp: int

    def __repr__(self) -> str:
        return f"SealedAuth(ciphertext=<sealed>, exp={self.exp})"


Auth = Annotated[
    AmbientAuth | ProfileAuth | AssumeRoleAuth | SealedAuth, Field(discriminator="mode")
]


class ClientSettings(_Frozen):
    """botocore client settings the parent chose; the worker copies them exactly."""

    retry_mode: Literal["standard", "adaptive", "legacy"] = "standard"
    max_attempts: int = Field(default=3, ge=1, le=10)
    connect_timeout: float = Field(default=5.0, gt=0, le=120)
    read_timeout: float = Field(default=60.0, gt=0, le=3600)


class Lineage(_Frozen):
    """Where a job sits in its tree; never part of the client cache key."""

    root_id: str = Field(min_length=1, max_length=64)
    parent_id: str | None = Field(default=None, max_length=64)
    depth: int = Field(default=0, ge=0)


class Limits(_Frozen):
    """How far and how wide a tree may grow."""

    max_depth: int = Field(default=DEFAULT_MAX_DEPTH, ge=0, le=16)
    max_children: int = Field(default=DEFAULT_MAX_CHILDREN, ge=0, le=64)
    max_turns: int = Field(default=DEFAULT_MAX_TURNS, ge=1, le=64)
    max_jobs: int = Field(default=DEFAULT_MAX_JOBS, ge=0, le=10_000)


#: Validation-context key: ``host:port`` pairs where plain http is accepted besides loopback.
INSECURE_ENDPOINTS_CONTEXT = "insecure_endpoints"


class BedrockEnvelope(_Frozen):
    """A parent's resolved Bedrock configuration, signed and carried in one message header."""

    v: Literal[1] = ENVELOPE_VERSION
    # A pattern, not a Python validator: it runs inside pydantic-core, and a worker validates
    # an envelope for every job.
    region: str = Field(pattern=REGION_PATTERN.pattern)
    cross_region: bool
    model_id: str = Field(min_length=1, max_length=2048)
    endpoint_url: str | None = None
    auth: Auth = Field(default_factory=AmbientAuth)
    client: ClientSettings = Field(default_factory=ClientSettings)
    lineage: Lineage
    limits: Limits = Field(default_factory=Limits)
    iat: int
    exp: int
    kid: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint(cls, value: str | None, info: ValidationInfo) -> str | None:
        # A producer may only write an endpoint that parses strictly (envelope.urls) and is https
        # or opted-in http. A payload read off the wire ("json" mode, on a worker) is judged by
        # the worker's policy instead, with the same parser: a bad endpoint there is a refusal
        # (EndpointNotAllowed, dead-lettered and counted as such), not a malformed envelope.
        if value is None or info.mode == "json":
            return value
        insecure = (info.context or {}).get(INSECURE_ENDPOINTS_CONTEXT, frozenset())
        return check_endpoint_url(value, insecure_endpoints=frozenset(insecure))

    @model_validator(mode="after")
    def _window(self) -> BedrockEnvelope:
        if self.exp <= self.iat:
            raise ValueError(f"exp ({self.exp}) must be after iat ({self.iat})")
        return self

    @property
    def client_fingerprint(self) -> tuple[object, ...]:
        """The part of the envelope a boto3 client depends on: the client cache key."""
        # Plain values, not the nested models: a cache lookup hashes and compares this key on
        # every job, and comparing two pydantic models costs about a microsecond each.
        auth, client = self.auth, self.client
        return (
            self.region,
            self.endpoint_url,
            (type(auth).__name__, *auth.__dict__.values()),
            (client.retry_mode, client.max_attempts, client.connect_timeout, client.read_timeout),
        )

    def canonical_json(self) -> bytes:
        """Return the exact bytes that get signed: sorted keys, no whitespace."""
        data = self.model_dump(mode="json")
        return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()

    def child(self, *, parent_id: str, now: float | None = None) -> BedrockEnvelope:
        """Return the envelope for a job this one starts: same config, one level deeper.

        The validity window keeps the parent's length but starts now, so a long tree does not
        expire halfway; ``max_depth`` is what bounds it.
        """
        issued = int(time.time() if now is None else now)
        lineage = Lineage(
            root_id=self.lineage.root_id, parent_id=parent_id, depth=self.lineage.depth + 1
        )
        ttl = self.exp - self.iat
        return self.model_copy(update={"lineage": lineage, "iat": issued, "exp": issued + ttl})

    def refreshed(self, *, now: float | None = None) -> BedrockEnvelope:
        """Return the same envelope, same place in the tree, with a validity window from now.

        Used for a job's own continuation (a chord callback that resumes it), which is not a
        child and must not count as one more level of depth.
        """
        issued = int(time.time() if now is None else now)
        return self.model_copy(update={"iat": issued, "exp": issued + self.exp - self.iat})

    def summary(self) -> dict[str, object]:
        """Return the fields safe to log or dead-letter: no credentials, no ciphertext."""
        return {
            "region": self.region,
            "cross_region": self.cross_region,
            "model_id": self.model_id,
            "endpoint_url": self.endpoint_url,
            "auth": self.auth.mode,
            "root_id": self.lineage.root_id,
            "parent_id": self.lineage.parent_id,
            "depth": self.lineage.depth,
            "kid": self.kid,
            "exp": self.exp,
        }
