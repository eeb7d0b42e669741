"""Capture of the parent's config: precedence tables, refusals, and the profile file."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import envelope
from orchestrator.capture import CapturedConfig, Setting, capture
from orchestrator.errors import CaptureError, InvalidSetting, RegionNotConfigured

SONNET_4 = "anthropic.claude-sonnet-4-20250514-v1:0"
HAIKU = "anthropic.claude-haiku-4-5-20251001-v1:0"
OPUS = "anthropic.claude-opus-4-1-20250805-v1:0"
SONNET_4_5 = "anthropic.claude-sonnet-4-5-20250929-v1:0"
#: A model the catalogue does not list, callable on demand: usable with cross-region off.
ON_DEMAND = "mistral.mistral-large-2402-v1:0"

PROFILE_CONFIG = """\
[default]
region = eu-north-1

[profile dev]
region = ap-southeast-2
output = json

[profile noregion]
output = json

[profile percent]
region = eu-south-1
s3 =
    max_bandwidth = 50%
"""


@pytest.fixture
def aws_config(tmp_path: Path) -> Path:
    """An AWS config file in tmp_path, so no test ever reads the real ~/.aws/config."""
    path = tmp_path / "config"
    path.write_text(PROFILE_CONFIG)
    return path


@pytest.fixture
def base_environ(aws_config: Path, tmp_path: Path) -> dict[str, str]:
    """The environment every capture starts from: only the config file and a fake HOME."""
    return {"AWS_CONFIG_FILE": str(aws_config), "HOME": str(tmp_path / "home")}


# --- region -------------------------------------------------------------------------------------

# Each source has its own region so the winner is unambiguous:
#   --region eu-west-3, AWS_BEDROCK_REGION eu-central-1, AWS_REGION eu-west-1,
#   AWS_DEFAULT_REGION us-west-2, AWS_PROFILE=dev ap-southeast-2.
FLAG = {"region": "eu-west-3"}
BEDROCK = {"AWS_BEDROCK_REGION": "eu-central-1"}
AWS_REGION = {"AWS_REGION": "eu-west-1"}
DEFAULT = {"AWS_DEFAULT_REGION": "us-west-2"}
PROFILE = {"AWS_PROFILE": "dev"}
PROFILE_SOURCE = "profile 'dev' in {config}"

REGION_TABLE = [
    # one source alone
    pytest.param({}, FLAG, "eu-west-3", "--region", id="the_flag_alone_sets_the_region"),
    pytest.param(BEDROCK, {}, "eu-central-1", "AWS_BEDROCK_REGION", id="aws_bedrock_region_alone"),
    pytest.param(AWS_REGION, {}, "eu-west-1", "AWS_REGION", id="aws_region_alone"),
    pytest.param(DEFAULT, {}, "us-west-2", "AWS_DEFAULT_REGION", id="aws_default_region_alone"),
    pytest.param(PROFILE, {}, "ap-southeast-2", PROFILE_SOURCE, id="aws_profile_alone"),
    # every pairwise conflict
    pytest.param(BEDROCK, FLAG, "eu-west-3", "--region", id="flag_beats_aws_bedrock_region"),
    pytest.param(AWS_REGION, FLAG, "eu-west-3", "--region", id="flag_beats_aws_region"),
    pytest.param(DEFAULT, FLAG, "eu-west-3", "--region", id="flag_beats_aws_default_region"),
    pytest.param(PROFILE, FLAG, "eu-west-3", "--region", id="flag_beats_aws_profile"),
    pytest.param(
        {**BEDROCK, **AWS_REGION},
        {},
        "eu-central-1",
        "AWS_BEDROCK_REGION",
        id="aws_bedrock_region_beats_aws_region",
    ),
    pytest.param(
        {**BEDROCK, **DEFAULT},
        {},
        "eu-central-1",
        "AWS_BEDROCK_REGION",
        id="aws_bedrock_region_beats_aws_default_region",
    ),
    pytest.param(
        {**BEDROCK, **PROFILE},
        {},
        "eu-central-1",
        "AWS_BEDROCK_REGION",
        id="aws_bedrock_region_beats_aws_profile",
    ),
    pytest.param(
        {**AWS_REGION, **DEFAULT},
        {},
        "eu-west-1",
        "AWS_REGION",
        id="aws_region_beats_aws_default_region",
    ),
    pytest.param(
        {**AWS_REGION, **PROFILE}, {}, "eu-west-1", "AWS_REGION", id="aws_region_beats_aws_profile"
    ),
    pytest.param(
        {**DEFAULT, **PROFILE},
        {},
        "us-west-2",
        "AWS_DEFAULT_REGION",
        id="aws_default_region_beats_aws_profile",
    ),
    # all at once, and empty strings counting as unset
    pytest.param(
        {**BEDROCK, **AWS_REGION, **DEFAULT, **PROFILE},
        FLAG,
        "eu-west-3",
        "--region",
        id="flag_beats_everything",
    ),
    pytest.param(
        {"AWS_BEDROCK_REGION": "", "AWS_REGION": "", **DEFAULT},
        {"region": ""},
        "us-west-2",
        "AWS_DEFAULT_REGION",
        id="empty_strings_count_as_unset",
    ),
    pytest.param(
        {"AWS_PROFILE": "default"},
        {},
        "eu-north-1",
        "profile 'default' in {config}",
        id="aws_profile_default_reads_the_default_section",
    ),
    pytest.param(
        {"AWS_PROFILE": "percent"},
        {},
        "eu-south-1",
        "profile 'percent' in {config}",
        id="a_percent_sign_elsewhere_in_the_file_is_not_interpolated",
    ),
]


@pytest.mark.parametrize(("environ", "flags", "expected", "source"), REGION_TABLE)
def test_region_comes_from_the_highest_source_that_sets_one(
    base_environ, environ, flags, expected, source
):
    config = capture(environ={**base_environ, **environ}, **flags)
    source = source.format(config=base_environ["AWS_CONFIG_FILE"])
    assert config.region == Setting(expected, source)


def test_aws_region_is_honoured_although_boto3_ignores_it(base_environ):
    config = capture(environ={**base_environ, "AWS_REGION": "eu-west-1"})
    assert config.region.value == "eu-west-1"
    assert config.model_id.startswith("eu.")


def test_aws_profile_region_is_read_from_aws_config_file(tmp_path, base_environ):
    path = tmp_path / "elsewhere.ini"
    path.write_text("[profile team]\nregion = ap-northeast-1\n")
    environ = {**base_environ, "AWS_CONFIG_FILE": str(path), "AWS_PROFILE": "team"}
    assert capture(environ=environ).region == Setting("ap-northeast-1", f"profile 'team' in {path}")


def test_aws_profile_without_aws_config_file_reads_home_aws_config(tmp_path):
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "config").write_text("[profile dev]\nregion = eu-west-2\n")
    config = capture(environ={"HOME": str(home), "AWS_PROFILE": "dev"})
    assert config.region == Setting("eu-west-2", f"profile 'dev' in {home / '.aws' / 'config'}")


def test_the_default_profile_section_is_ignored_when_aws_profile_is_unset(base_environ):
    with pytest.raises(RegionNotConfigured):
        capture(environ=base_environ)


# --- cross_region -------------------------------------------------------------------------------

CROSS = "AWS_BEDROCK_CROSS_REGION_INFERENCE"

CROSS_REGION_TABLE = [
    pytest.param({CROSS: "true"}, "sonnet", True, CROSS, id="true_turns_it_on"),
    pytest.param({CROSS: "TRUE"}, "sonnet", True, CROSS, id="parsing_ignores_case"),
    pytest.param({CROSS: "1"}, "sonnet", True, CROSS, id="one_turns_it_on"),
    pytest.param({CROSS: "Yes"}, "sonnet", True, CROSS, id="yes_turns_it_on"),
    pytest.param({CROSS: "false"}, ON_DEMAND, False, CROSS, id="false_turns_it_off"),
    pytest.param({CROSS: "False"}, ON_DEMAND, False, CROSS, id="false_any_case"),
    pytest.param({CROSS: "0"}, ON_DEMAND, False, CROSS, id="zero_turns_it_off"),
    pytest.param({CROSS: "NO"}, ON_DEMAND, False, CROSS, id="no_turns_it_off"),
    pytest.param(
        {},
        "claude-sonnet-4",
        True,
        "default: claude-sonnet-4 runs only through an inference profile",
        id="unset_is_on_for_a_profile_only_model",
    ),
    pytest.param(
        {CROSS: ""},
        "haiku",
        True,
        "default: haiku runs only through an inference profile",
        id="empty_counts_as_unset",
    ),
    pytest.param(
        {},
        f"eu.{SONNET_4}",
        True,
        f"default: eu.{SONNET_4} is an inference profile ID",
        id="unset_is_on_for_an_explicit_profile_id",
    ),
    pytest.param({}, ON_DEMAND, False, "default", id="unset_is_off_for_an_on_demand_model"),
]


@pytest.mark.parametrize(("environ", "model", "expected", "source"), CROSS_REGION_TABLE)
def test_cross_region_comes_from_the_variable_else_from_the_model(
    base_environ, environ, model, expected, source
):
    config = capture(environ={**base_environ, "AWS_REGION": "eu-west-1", **environ}, model=model)
    assert config.cross_region == Setting(expected, source)


def test_unset_cross_region_default_is_explained_for_debug_and_doctor(base_environ):
    config = capture(environ={**base_environ, "AWS_REGION": "eu-west-1"})
    assert (
        "cross-region inference on (default: claude-sonnet-4 runs only through an inference "
        "profile)" in config.explain()
    )


# --- endpoint -----------------------------------------------------------------------------------

E_FLAG = {"endpoint_url": "https://flag.example.com"}
E_BEDROCK = {"AWS_BEDROCK_ENDPOINT": "https://bedrock.example.com"}
E_RUNTIME = {"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": "https://runtime.example.com"}
E_GENERIC = {"AWS_ENDPOINT_URL": "https://generic.example.com"}

ENDPOINT_TABLE = [
    pytest.param({}, {}, None, "regional default", id="nothing_set_means_the_regional_default"),
    pytest.param({}, E_FLAG, "https://flag.example.com", "--endpoint-url", id="the_flag_alone"),
    pytest.param(
        E_BEDROCK, {}, "https://bedrock.example.com", "AWS_BEDROCK_ENDPOINT", id="bedrock_alone"
    ),
    pytest.param(
        E_RUNTIME,
        {},
        "https://runtime.example.com",
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
        id="aws_endpoint_url_bedrock_runtime_alone",
    ),
    pytest.param(
        E_GENERIC,
        {},
        "https://generic.example.com",
        "AWS_ENDPOINT_URL",
        id="aws_endpoint_url_alone",
    ),
    pytest.param(
        E_BEDROCK,
        E_FLAG,
        "https://flag.example.com",
        "--endpoint-url",
        id="flag_beats_aws_bedrock_endpoint",
    ),
    pytest.param(
        E_RUNTIME,
        E_FLAG,
        "https://flag.example.com",
        "--endpoint-url",
        id="flag_beats_aws_endpoint_url_bedrock_runtime",
    ),
    pytest.param(
        E_GENERIC,
        E_FLAG,
        "https://flag.example.com",
        "--endpoint-url",
        id="flag_beats_aws_endpoint_url",
    ),
    pytest.param(
        {**E_BEDROCK, **E_RUNTIME},
        {},
        "https://bedrock.example.com",
        "AWS_BEDROCK_ENDPOINT",
        id="aws_bedrock_endpoint_beats_aws_endpoint_url_bedrock_runtime",
    ),
    pytest.param(
        {**E_BEDROCK, **E_GENERIC},
        {},
        "https://bedrock.example.com",
        "AWS_BEDROCK_ENDPOINT",
        id="aws_bedrock_endpoint_beats_aws_endpoint_url",
    ),
    pytest.param(
        {**E_RUNTIME, **E_GENERIC},
        {},
        "https://runtime.example.com",
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
        id="aws_endpoint_url_bedrock_runtime_beats_aws_endpoint_url",
    ),
    pytest.param(
        {"AWS_BEDROCK_ENDPOINT": "", **E_GENERIC},
        {"endpoint_url": ""},
        "https://generic.example.com",
        "AWS_ENDPOINT_URL",
        id="empty_strings_count_as_unset",
    ),
    pytest.param(
        {"AWS_ENDPOINT_URL": "http://127.0.0.1:4566"},
        {},
        "http://127.0.0.1:4566",
        "AWS_ENDPOINT_URL",
        id="plain_http_is_allowed_on_ipv4_loopback",
    ),
    pytest.param(
        {},
        {"endpoint_url": "http://[::1]:8000"},
        "http://[::1]:8000",
        "--endpoint-url",
        id="plain_http_is_allowed_on_ipv6_loopback",
    ),
    pytest.param(
        {"AWS_BEDROCK_ENDPOINT": "http://localhost:8000"},
        {},
        "http://localhost:8000",
        "AWS_BEDROCK_ENDPOINT",
        id="plain_http_is_allowed_on_localhost",
    ),
]


@pytest.mark.parametrize(("environ", "flags", "expected", "source"), ENDPOINT_TABLE)
def test_endpoint_comes_from_the_highest_source_that_sets_one(
    base_environ, environ, flags, expected, source
):
    config = capture(environ={**base_environ, "AWS_REGION": "eu-west-1", **environ}, **flags)
    assert config.endpoint_url == Setting(expected, source)


# --- model --------------------------------------------------------------------------------------

M_FLAG = {"model": "haiku"}
M_ANTHROPIC = {"ANTHROPIC_MODEL": "claude-opus-4-1"}
M_BATON = {"BATON_MODEL": "sonnet"}

# In us-east-1, where every catalogue model has a profile, so each row also pins its resolution.
MODEL_TABLE = [
    pytest.param(
        {}, {}, Setting("claude-sonnet-4", "default alias"), f"us.{SONNET_4}", id="default_alias"
    ),
    pytest.param({}, M_FLAG, Setting("haiku", "--model"), f"us.{HAIKU}", id="the_flag_alone"),
    pytest.param(
        M_ANTHROPIC,
        {},
        Setting("claude-opus-4-1", "ANTHROPIC_MODEL"),
        f"us.{OPUS}",
        id="anthropic_model_alone",
    ),
    pytest.param(
        M_BATON, {}, Setting("sonnet", "BATON_MODEL"), f"us.{SONNET_4_5}", id="baton_model_alone"
    ),
    pytest.param(
        M_ANTHROPIC,
        M_FLAG,
        Setting("haiku", "--model"),
        f"us.{HAIKU}",
        id="flag_beats_anthropic_model",
    ),
    pytest.param(
        M_BATON, M_FLAG, Setting("haiku", "--model"), f"us.{HAIKU}", id="flag_beats_baton_model"
    ),
    pytest.param(
        {**M_ANTHROPIC, **M_BATON},
        {},
        Setting("claude-opus-4-1", "ANTHROPIC_MODEL"),
        f"us.{OPUS}",
        id="anthropic_model_beats_baton_model",
    ),
    pytest.param(
        {"ANTHROPIC_MODEL": "", **M_BATON},
        {"model": ""},
        Setting("sonnet", "BATON_MODEL"),
        f"us.{SONNET_4_5}",
        id="empty_strings_count_as_unset",
    ),
]


@pytest.mark.parametrize(("environ", "flags", "expected", "model_id"), MODEL_TABLE)
def test_model_comes_from_the_highest_source_and_is_resolved_once(
    base_environ, environ, flags, expected, model_id
):
    config = capture(environ={**base_environ, "AWS_REGION": "us-east-1", **environ}, **flags)
    assert config.model == expected
    assert config.model_id == model_id


def test_default_model_is_the_catalogue_default_alias(base_environ):
    config = capture(environ={**base_environ, "AWS_REGION": "eu-west-1"})
    assert config.model.value == envelope.catalogue().default_alias


def test_model_is_resolved_for_the_captured_region_geography(base_environ):
    config = capture(environ={**base_environ, "AWS_PROFILE": "dev"}, model="haiku")
    assert config.region.value == "ap-southeast-2"
    assert config.model_id == f"au.{HAIKU}"


# --- refusals -----------------------------------------------------------------------------------


def test_no_region_anywhere_raises_region_not_configured_and_never_assumes_us_east_1(
    base_environ,
):
    with pytest.raises(RegionNotConfigured) as info:
        capture(environ=base_environ)
    message = str(info.value)
    assert "us-east-1" in message
    assert "never" in message
    for source in ("--region", "AWS_BEDROCK_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"):
        assert source in message


def test_capture_reads_only_the_environ_it_is_given(base_environ, monkeypatch):
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with pytest.raises(RegionNotConfigured):
        capture(environ=base_environ)


@pytest.mark.parametrize(
    "profile",
    [
        pytest.param("noregion", id="a_profile_without_a_region"),
        pytest.param("missing", id="a_profile_not_in_the_file"),
    ],
)
def test_aws_profile_without_a_region_raises_region_not_configured_naming_it(
    base_environ, aws_config, profile
):
    with pytest.raises(RegionNotConfigured) as info:
        capture(environ={**base_environ, "AWS_PROFILE": profile})
    assert repr(profile) in str(info.value)
    assert str(aws_config) in str(info.value)


def test_aws_profile_with_a_missing_config_file_raises_region_not_configured(tmp_path):
    environ = {"AWS_CONFIG_FILE": str(tmp_path / "absent"), "AWS_PROFILE": "dev"}
    with pytest.raises(RegionNotConfigured, match="'dev'"):
        capture(environ=environ)


def test_an_unparseable_config_file_raises_invalid_setting_with_its_cause(tmp_path):
    path = tmp_path / "config"
    path.write_text("region = eu-west-1\n")  # no section header
    with pytest.raises(InvalidSetting) as info:
        capture(environ={"AWS_CONFIG_FILE": str(path), "AWS_PROFILE": "dev"})
    assert str(path) in str(info.value)
    assert isinstance(info.value.__cause__, Exception)


@pytest.mark.parametrize(
    ("environ", "flags", "named"),
    [
        pytest.param({}, {"region": "EU-WEST-1"}, "--region", id="flag_in_capitals"),
        pytest.param({"AWS_BEDROCK_REGION": "eu-west"}, {}, "AWS_BEDROCK_REGION", id="no_number"),
        pytest.param({"AWS_REGION": "Frankfurt"}, {}, "AWS_REGION", id="a_city_name"),
        pytest.param({"AWS_REGION": "eu-west-1\n"}, {}, "AWS_REGION", id="a_trailing_newline"),
        pytest.param({"AWS_DEFAULT_REGION": " eu-west-1"}, {}, "AWS_DEFAULT_REGION", id="a_space"),
    ],
)
def test_a_value_that_is_not_a_region_raises_invalid_setting_naming_its_source(
    base_environ, environ, flags, named
):
    with pytest.raises(InvalidSetting) as info:
        capture(environ={**base_environ, **environ}, **flags)
    assert named in str(info.value)


def test_an_invalid_profile_region_raises_invalid_setting_naming_the_profile(tmp_path):
    path = tmp_path / "config"
    path.write_text("[profile moon]\nregion = moon-base-1\n")
    with pytest.raises(InvalidSetting, match="profile 'moon'"):
        capture(environ={"AWS_CONFIG_FILE": str(path), "AWS_PROFILE": "moon"})


def test_an_overridden_invalid_region_is_never_read(base_environ):
    environ = {**base_environ, "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "garbage"}
    assert capture(environ=environ).region.value == "eu-west-1"


@pytest.mark.parametrize("value", ["maybe", "on", "2", "tru", " true"])
def test_an_unknown_cross_region_value_raises_invalid_setting(base_environ, value):
    environ = {**base_environ, "AWS_REGION": "eu-west-1", CROSS: value}
    with pytest.raises(InvalidSetting) as info:
        capture(environ=environ)
    assert CROSS in str(info.value)
    assert repr(value) in str(info.value)


@pytest.mark.parametrize(
    ("environ", "flags", "named"),
    [
        pytest.param(
            {}, {"endpoint_url": "http://bedrock.example.com"}, "--endpoint-url", id="flag"
        ),
        pytest.param(
            {"AWS_BEDROCK_ENDPOINT": "http://10.0.0.5:8080"}, {}, "AWS_BEDROCK_ENDPOINT", id="lan"
        ),
        pytest.param(
            {"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": "http://proxy.internal"},
            {},
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
            id="runtime",
        ),
        pytest.param(
            {"AWS_ENDPOINT_URL": "http://127.0.0.1.example.com"},
            {},
            "AWS_ENDPOINT_URL",
            id="loopback_lookalike",
        ),
        pytest.param({"AWS_ENDPOINT_URL": "ftp://127.0.0.1"}, {}, "AWS_ENDPOINT_URL", id="ftp"),
        pytest.param({"AWS_ENDPOINT_URL": "bedrock.local"}, {}, "AWS_ENDPOINT_URL", id="no_scheme"),
    ],
)
def test_a_plain_http_non_loopback_endpoint_raises_invalid_setting_chained(
    base_environ, environ, flags, named
):
    with pytest.raises(InvalidSetting) as info:
        capture(environ={**base_environ, "AWS_REGION": "eu-west-1", **environ}, **flags)
    assert named in str(info.value)
    assert isinstance(info.value.__cause__, ValueError)


def test_capture_errors_are_baton_errors_with_stable_codes():
    assert issubclass(RegionNotConfigured, CaptureError)
    assert issubclass(InvalidSetting, CaptureError)
    assert issubclass(CaptureError, envelope.BatonError)
    assert {RegionNotConfigured.code, InvalidSetting.code} == {
        "region_not_configured",
        "invalid_setting",
    }


# --- resolution errors propagate ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "model", "error"),
    [
        pytest.param("ap-northeast-2", "haiku", envelope.ModelNotInGeography, id="haiku_in_seoul"),
        pytest.param("eu-west-1", "opus", envelope.ModelNotInGeography, id="opus_in_the_eu"),
        pytest.param(
            "eu-west-1", f"us.{HAIKU}", envelope.ProfileGeographyMismatch, id="us_haiku_in_the_eu"
        ),
        pytest.param("eu-west-1", "gpt-5", envelope.UnknownModel, id="an_unknown_name"),
        pytest.param(
            "eu-west-1",
            "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc",
            envelope.ArnRegionMismatch,
            id="an_arn_from_another_region",
        ),
    ],
)
def test_resolution_errors_propagate_unchanged(base_environ, region, model, error):
    with pytest.raises(error) as info:
        capture(environ={**base_environ, "AWS_REGION": region}, model=model)
    assert type(info.value) is error
    assert not isinstance(info.value, CaptureError)


def test_cross_region_off_with_a_profile_only_model_raises_model_requires_profile(base_environ):
    environ = {**base_environ, "AWS_REGION": "eu-west-1", CROSS: "false"}
    with pytest.raises(envelope.ModelRequiresProfile):
        capture(environ=environ, model="sonnet")


def test_cross_region_off_with_an_explicit_profile_id_is_refused(base_environ):
    environ = {**base_environ, "AWS_REGION": "eu-west-1", CROSS: "false"}
    with pytest.raises(envelope.ModelRequiresProfile):
        capture(environ=environ, model=f"eu.{SONNET_4}")


def test_a_parent_on_an_explicit_profile_id_can_resolve_a_haiku_subagent(base_environ):
    config = capture(environ={**base_environ, "AWS_REGION": "eu-west-1"}, model=f"eu.{SONNET_4}")
    subagent = envelope.resolve(
        "haiku", region=config.region.value, cross_region=config.cross_region.value
    )
    assert subagent == f"eu.{HAIKU}"


# --- the result ---------------------------------------------------------------------------------


def test_explain_gives_one_line_per_setting_with_its_source(base_environ):
    environ = {
        **base_environ,
        "AWS_REGION": "eu-west-1",
        CROSS: "yes",
        "AWS_BEDROCK_ENDPOINT": "https://vpce.example.com",
        "ANTHROPIC_MODEL": "haiku",
    }
    assert capture(environ=environ).explain() == [
        "region eu-west-1 (from AWS_REGION)",
        f"cross-region inference on (from {CROSS})",
        "endpoint https://vpce.example.com (from AWS_BEDROCK_ENDPOINT)",
        f"model haiku resolved to eu.{HAIKU} (from ANTHROPIC_MODEL)",
    ]


def test_explain_names_the_defaults_as_defaults(base_environ):
    lines = capture(environ={**base_environ, "AWS_REGION": "eu-west-1"}, model=ON_DEMAND).explain()
    assert lines[1] == "cross-region inference off (default)"
    assert lines[2] == "endpoint bedrock-runtime default for eu-west-1 (regional default)"
    assert lines[3] == f"model {ON_DEMAND} resolved to {ON_DEMAND} (from --model)"


def test_captured_config_and_settings_are_frozen(base_environ):
    config = capture(environ={**base_environ, "AWS_REGION": "eu-west-1"})
    assert isinstance(config, CapturedConfig)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.model_id = "us.anything"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.region.value = "us-east-1"  # type: ignore[misc]


def test_capture_is_a_pure_function_of_its_inputs(base_environ):
    environ = {**base_environ, "AWS_PROFILE": "dev", "ANTHROPIC_MODEL": "haiku"}
    snapshot = dict(environ)
    first = capture(environ=environ)
    assert capture(environ=environ) == first
    assert environ == snapshot
