"""Capture the parent's Bedrock configuration, once, from flags and the environment.

Usage::

    import os
    from orchestrator import capture

    config = capture(environ=os.environ, region=args.region, model=args.model)
    config.model_id          # resolved here, once; subagents never re-derive it
    config.explain()         # ["region eu-west-1 (from AWS_REGION)", ...] for --debug and doctor

The result is a pure function of the arguments (plus the AWS config file when ``AWS_PROFILE`` is
set): nothing reads ``os.environ`` behind the caller's back, so a test or a doctor run sees exactly
what a parent would. Every value records where it came from, because "why is my subagent calling
us-east-1?" is the question this module exists to answer. When no source gives a region, capture
refuses: boto3 would fall back to its own defaults, Baton does not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from envelope import (
    INSECURE_ENDPOINTS_VARIABLE,
    Catalogue,
    catalogue,
    check_endpoint_url,
    geography_prefix,
    is_region,
    parse_insecure_endpoints,
    requires_profile,
)
from envelope import resolve as resolve_model
from orchestrator.aws_config import config_path, profile_region
from orchestrator.errors import InvalidSetting, RegionNotConfigured

T = TypeVar("T")

#: Flag names as the CLI spells them; they are the sources reported for explicit arguments.
REGION_FLAG = "--region"
MODEL_FLAG = "--model"
ENDPOINT_FLAG = "--endpoint-url"

#: Region variables, highest first. ``AWS_REGION`` is honoured although boto3 ignores it: users
#: set it and expect it to win over ``AWS_DEFAULT_REGION``, as every other AWS SDK does.
REGION_VARIABLES = ("AWS_BEDROCK_REGION", "AWS_REGION", "AWS_DEFAULT_REGION")

#: The one switch for geographic cross-region inference.
CROSS_REGION_VARIABLE = "AWS_BEDROCK_CROSS_REGION_INFERENCE"

#: Endpoint variables, highest first: Baton's own, then the two botocore itself would read.
ENDPOINT_VARIABLES = (
    "AWS_BEDROCK_ENDPOINT",
    "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
    "AWS_ENDPOINT_URL",
)

#: Model variables, highest first: the agent tool's own variable, then Baton's.
MODEL_VARIABLES = ("ANTHROPIC_MODEL", "BATON_MODEL")

_TRUE_WORDS = frozenset({"true", "1", "yes"})
_FALSE_WORDS = frozenset({"false", "0", "no"})

_NO_REGION = (
    "no AWS region is configured: set --region, AWS_BEDROCK_REGION, AWS_REGION or "
    "AWS_DEFAULT_REGION, or AWS_PROFILE with a region in ~/.aws/config; "
    "Baton never falls back to us-east-1"
)


@dataclass(frozen=True)
class Setting(Generic[T]):
    """A captured value and the source it came from, so a wrong value can be traced to its origin.

    Attributes:
        value: what the parent will use.
        source: a flag (``--region``), a variable (``AWS_REGION``), a profile
            (``profile 'dev' in /home/me/.aws/config``), or a text starting with ``default``.
    """

    value: T
    source: str


@dataclass(frozen=True)
class CapturedConfig:
    """The parent's Bedrock configuration, every part traced to its source.

    Attributes:
        region: the source region for bedrock-runtime.
        cross_region: whether geographic inference profiles may be used.
        endpoint_url: an endpoint override, or None for the regional endpoint.
        model: the model name as asked for (an alias, an ID or an ARN).
        model_id: ``model`` resolved once for ``region``; the exact string every job carries.
    """

    region: Setting[str]
    cross_region: Setting[bool]
    endpoint_url: Setting[str | None]
    model: Setting[str]
    model_id: str

    def explain(self) -> list[str]:
        """Return one human line per setting, for ``--debug`` and ``baton doctor``.

        A subagent that calls the wrong place is usually a setting taken from an unexpected
        source, so each line names the source, not just the value.
        """
        endpoint = self.endpoint_url.value or f"bedrock-runtime default for {self.region.value}"
        return [
            f"region {self.region.value} ({_origin(self.region.source)})",
            f"cross-region inference {'on' if self.cross_region.value else 'off'} "
            f"({_origin(self.cross_region.source)})",
            f"endpoint {endpoint} ({_origin(self.endpoint_url.source)})",
            f"model {self.model.value} resolved to {self.model_id} ({_origin(self.model.source)})",
        ]


def _origin(source: str) -> str:
    return source if source.startswith(("default", "regional default")) else f"from {source}"


def capture(
    *,
    environ: Mapping[str, str],
    region: str | None = None,
    model: str | None = None,
    endpoint_url: str | None = None,
    source: Catalogue | None = None,
) -> CapturedConfig:
    """Capture and resolve the parent's configuration from flags and ``environ``.

    Args:
        environ: the environment to read; pass ``os.environ`` at the edge, a dict in tests.
        region: the ``--region`` flag, which beats every variable.
        model: the ``--model`` flag, which beats every variable.
        endpoint_url: the ``--endpoint-url`` flag, which beats every variable.
        source: a catalogue corrected by discovery; the shipped one when None.

    Raises:
        RegionNotConfigured: no source names a region.
        InvalidSetting: the winning source of a setting holds an unusable value.
        envelope.ResolutionError: the model has no usable ID in the region; unchanged, so it
            reads the same as when a worker reports it.
    """
    region_setting, endpoint_setting = capture_location(
        environ=environ, region=region, endpoint_url=endpoint_url
    )
    model_setting = _first_set([(MODEL_FLAG, model), *_variables(environ, MODEL_VARIABLES)])
    if model_setting is None:
        model_setting = Setting(catalogue().default_alias, "default alias")
    cross_region = _capture_cross_region(
        environ, model=model_setting.value, region=region_setting.value, source=source
    )
    return CapturedConfig(
        region=region_setting,
        cross_region=cross_region,
        endpoint_url=endpoint_setting,
        model=model_setting,
        model_id=resolve_model(
            model_setting.value,
            region=region_setting.value,
            cross_region=cross_region.value,
            source=source,
        ),
    )


def capture_location(
    *, environ: Mapping[str, str], region: str | None = None, endpoint_url: str | None = None
) -> tuple[Setting[str], Setting[str | None]]:
    """Capture only where the parent calls Bedrock: its region and endpoint.

    Discovery needs these before the model can be resolved.
    """
    return _capture_region(environ, flag=region), _capture_endpoint(environ, flag=endpoint_url)


def _variables(environ: Mapping[str, str], names: Iterable[str]) -> list[tuple[str, str | None]]:
    return [(name, environ.get(name)) for name in names]


def _first_set(candidates: Iterable[tuple[str, str | None]]) -> Setting[str] | None:
    """Return the first candidate with a value; an empty string counts as unset, as in boto3."""
    for source, value in candidates:
        if value:
            return Setting(value, source)
    return None


def _capture_region(environ: Mapping[str, str], *, flag: str | None) -> Setting[str]:
    """Take the region from the highest source that sets one; only that source is validated.

    A lower source is never read once a higher one is set, so a stale ``AWS_DEFAULT_REGION``
    cannot break a parent that passes ``--region``.
    """
    found = _first_set([(REGION_FLAG, flag), *_variables(environ, REGION_VARIABLES)])
    if found is None:
        found = _region_from_profile(environ)
    if not is_region(found.value):
        raise InvalidSetting(
            f"{found.source} is {found.value!r}, which is not an AWS region name such as "
            f"eu-west-1; correct it or unset it so a lower-precedence source applies"
        )
    return found


def _region_from_profile(environ: Mapping[str, str]) -> Setting[str]:
    """Read the region of ``AWS_PROFILE``, the last source before refusing."""
    profile = environ.get("AWS_PROFILE")
    if not profile:
        raise RegionNotConfigured(_NO_REGION)
    path = config_path(environ)
    region = profile_region(path, profile)
    if not region:
        raise RegionNotConfigured(
            f"{_NO_REGION} (AWS_PROFILE={profile!r} is set, but {path} gives that profile no "
            "region: add 'region = ...' to its section)"
        )
    return Setting(region, f"profile {profile!r} in {path}")


def _capture_cross_region(
    environ: Mapping[str, str], *, model: str, region: str, source: Catalogue | None
) -> Setting[bool]:
    """Parse the cross-region switch, or derive it from the model when the switch is unset.

    The default turns cross-region on exactly when the model cannot run without it (a model
    served in the region only through a profile, or a profile ID named outright), so the
    parent's setting also lets subagents resolve their own models in the same geography.
    """
    raw = environ.get(CROSS_REGION_VARIABLE)
    if raw:
        word = raw.lower()
        if word in _TRUE_WORDS or word in _FALSE_WORDS:
            return Setting(word in _TRUE_WORDS, CROSS_REGION_VARIABLE)
        raise InvalidSetting(
            f"{CROSS_REGION_VARIABLE} is {raw!r}; expected true/false/1/0/yes/no "
            "(any case), or unset it to let Baton decide from the model"
        )
    if geography_prefix(model) is not None:
        return Setting(True, f"default: {model} is an inference profile ID")
    if requires_profile(model, region, source=source):
        return Setting(True, f"default: {model} runs only through an inference profile")
    return Setting(False, "default")


def _capture_endpoint(environ: Mapping[str, str], *, flag: str | None) -> Setting[str | None]:
    """Take the endpoint override, refusing anything but a plain origin (``envelope.urls``), and
    plain http anywhere but this machine or an opted-in ``host:port``.

    Credentials and prompts travel on this connection; only loopback (an emulator or a local
    proxy) may skip TLS.
    """
    found = _first_set([(ENDPOINT_FLAG, flag), *_variables(environ, ENDPOINT_VARIABLES)])
    if found is None:
        return Setting(None, "regional default")
    try:
        insecure = parse_insecure_endpoints(environ.get(INSECURE_ENDPOINTS_VARIABLE))
    except ValueError as exc:
        raise InvalidSetting(f"{INSECURE_ENDPOINTS_VARIABLE}: {exc}") from exc
    try:
        check_endpoint_url(found.value, insecure_endpoints=insecure)
    except ValueError as exc:
        raise InvalidSetting(
            f"{found.source}: {exc}; correct {found.source} or unset it to use the regional "
            "endpoint"
        ) from exc
    return Setting(found.value, found.source)
