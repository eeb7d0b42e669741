"""The fleet policy: explicit regions, else the regions of the consumed queues, else refuse; and
endpoints only where the operator trusts them, parsed as the connection will be."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from envelope import TASK_NAME, AssumeRoleAuth, BedrockEnvelope, encode
from tests.factories import KEY, bound_request, keyring, make_envelope
from workers import EndpointNotAllowed, RegionNotAllowed, WorkerMisconfigured, WorkerSettings
from workers.allowlist import FleetPolicy, endpoint_origin, regions_of_queues
from workers.identity import _sts_endpoint
from workers.runtime import WorkerRuntime


def test_allowed_regions_default_to_the_regions_of_the_consumed_queues():
    policy = FleetPolicy.for_worker(
        allowed_regions=(), consumed_queues=["baton.eu-west-1", "baton.eu-central-1", "celery"]
    )
    assert policy.allowed_regions == {"eu-west-1", "eu-central-1"}


def test_explicit_allowed_regions_win_over_queues():
    policy = FleetPolicy.for_worker(
        allowed_regions=["eu-west-1"], consumed_queues=["baton.us-east-1"]
    )
    with pytest.raises(RegionNotAllowed):
        policy.check(make_envelope(region="us-east-1", model_id="us.x"))


def test_a_worker_serving_no_region_refuses_to_start():
    with pytest.raises(WorkerMisconfigured, match="baton worker --region"):
        FleetPolicy.for_worker(allowed_regions=(), consumed_queues=["celery"])


def test_queue_names_that_are_not_regions_are_ignored():
    assert regions_of_queues(["baton.unrouted", "baton.dead", "baton.ap-southeast-2"]) == {
        "ap-southeast-2"
    }


# --- endpoints -----------------------------------------------------------------------------------


def policy_with(*endpoints: str, insecure: frozenset[str] = frozenset()) -> FleetPolicy:
    return FleetPolicy.for_worker(
        allowed_regions=["eu-west-1", "us-east-1"],
        consumed_queues=[],
        allowed_endpoints=endpoints,
        insecure_endpoints=insecure,
    )


def from_wire(endpoint: str | None, *, region: str = "eu-west-1") -> BedrockEnvelope:
    """An envelope as a worker decodes it: off the wire, where the policy judges the endpoint."""
    envelope = make_envelope(region=region, model_id=f"{region[:2]}.x")
    raw = envelope.model_copy(update={"endpoint_url": endpoint}).model_dump_json()
    return BedrockEnvelope.model_validate_json(raw)


@pytest.mark.parametrize(
    "endpoint",
    [
        None,
        "https://bedrock-runtime.eu-west-1.amazonaws.com",
        "https://bedrock-runtime.eu-west-1.amazonaws.com:443/",
        "https://BEDROCK-RUNTIME.eu-west-1.amazonaws.com",
        "https://bedrock-runtime-fips.eu-west-1.amazonaws.com",
        "https://vpce-0abc123-x1y2z3.bedrock-runtime.eu-west-1.vpce.amazonaws.com",
        "https://vpce-0abc123-x1y2z3-eu-west-1a.bedrock-runtime.eu-west-1.vpce.amazonaws.com",
    ],
)
def test_by_default_the_envelope_regions_bedrock_runtime_is_served(endpoint):
    policy_with().check(from_wire(endpoint))


@pytest.mark.parametrize(
    "endpoint",
    [
        # The review's finding: any *.amazonaws.com host, and any loopback port, was served.
        "https://abc123.execute-api.eu-west-1.amazonaws.com",
        "https://attacker-bucket.s3.eu-west-1.amazonaws.com",
        "https://attacker-bucket.s3.amazonaws.com",
        "http://127.0.0.1:8750",
        "http://localhost",
        "https://[::1]:8443",
        # Bedrock, but not this envelope's region, port or scheme.
        "https://bedrock-runtime.us-east-1.amazonaws.com",
        "https://bedrock-runtime.eu-west-1.amazonaws.com:8443",
        "http://bedrock-runtime.eu-west-1.amazonaws.com",
        "https://bedrock.eu-west-1.amazonaws.com",
        "https://vpce-0abc.bedrock-runtime.us-east-1.vpce.amazonaws.com",
        "https://x.vpce-0abc.bedrock-runtime.eu-west-1.vpce.amazonaws.com",
        "https://notvpce.bedrock-runtime.eu-west-1.vpce.amazonaws.com",
        "https://bedrock-runtime.eu-west-1.amazonaws.com.attacker.example",
        "https://attacker.example.com",
    ],
)
def test_by_default_every_other_endpoint_is_refused(endpoint):
    with pytest.raises(EndpointNotAllowed, match="BATON_ALLOWED_ENDPOINTS"):
        policy_with().check(from_wire(endpoint))


def test_the_default_follows_each_envelopes_region():
    us = "https://bedrock-runtime.us-east-1.amazonaws.com"
    policy_with().check(from_wire(us, region="us-east-1"))
    with pytest.raises(EndpointNotAllowed, match="for region eu-west-1"):
        policy_with().check(from_wire(us, region="eu-west-1"))


def test_an_allowlist_admits_exactly_its_origins():
    policy = policy_with("https://bedrock.internal.example:443", "http://127.0.0.1:8750")
    policy.check(from_wire("https://bedrock.internal.example"))
    policy.check(from_wire("http://127.0.0.1:8750/"))
    with pytest.raises(EndpointNotAllowed):
        policy.check(from_wire("http://127.0.0.1:8751"))
    with pytest.raises(EndpointNotAllowed):
        policy.check(from_wire("https://127.0.0.1:8750"))
    with pytest.raises(EndpointNotAllowed):
        policy.check(from_wire("https://bedrock-runtime.eu-west-1.amazonaws.com"))


def test_loopback_is_served_only_where_the_operator_opts_in():
    for endpoint in ("http://127.0.0.1:8750", "http://127.0.0.1:41234", "http://[::1]:9"):
        policy_with("loopback").check(from_wire(endpoint))
        policy_with("bedrock", "loopback").check(from_wire(endpoint))
    policy_with("bedrock", "LOOPBACK").check(
        from_wire("https://bedrock-runtime.eu-west-1.amazonaws.com")
    )
    with pytest.raises(EndpointNotAllowed, match="allowed: loopback"):
        policy_with("loopback").check(from_wire("https://bedrock-runtime.eu-west-1.amazonaws.com"))
    with pytest.raises(EndpointNotAllowed):
        policy_with("loopback").check(from_wire("http://10.0.0.5:8750"))


@pytest.mark.parametrize(
    ("allowlist", "endpoint"),
    [
        # The review's findings, each admitted by main's urlsplit-based policy.
        (("http://127.0.0.1:41000",), "http://127.0.0.1:41001\\@127.0.0.1:41000"),
        (("loopback",), "http://remote.example\\@localhost"),
        (("http://127.0.0.1:8750",), "http://127.0.0.1:99999"),  # was a raw ValueError
        ((), "https://bedrock-runtime.eu-west-1.amazonaws.com:99999"),
        ((), "https://h:99999"),
        # And the rest of what an origin cannot hold.
        (("loopback",), "http://user:secret@127.0.0.1:8750"),
        (("http://127.0.0.1:8750",), "http://127.0.0.1:8750/model/x/converse"),
        (("http://127.0.0.1:8750",), "http://127.0.0.1:8750?x"),
        (("http://127.0.0.1:8750",), "http://127.0.0.1:8750 "),
        (("loopback",), "http://127.1:8750"),
        ((), "https://bedrock-runtime.eu-west-1.amazonaws.com:0"),
        ((), "ftp://bedrock-runtime.eu-west-1.amazonaws.com"),
    ],
)
def test_an_endpoint_that_is_not_a_strict_origin_is_refused_as_endpoint_not_allowed(
    allowlist, endpoint
):
    with pytest.raises(EndpointNotAllowed, match="BATON_ALLOWED_ENDPOINTS") as refused:
        policy_with(*allowlist).check(from_wire(endpoint))
    assert "write it as https://host" in str(refused.value)


def test_a_bad_endpoint_reaches_the_worker_as_endpoint_not_allowed_never_a_value_error():
    worker = WorkerRuntime(
        WorkerSettings(envelope_key=KEY, allowed_regions=("eu-west-1",))  # type: ignore[arg-type]
    )
    for bad in ("https://h:99999", "http://127.0.0.1:2\\@127.0.0.1:1"):
        forged = make_envelope().model_copy(update={"endpoint_url": bad})  # signed by a key holder
        token = encode(forged, keyring=keyring())
        with pytest.raises(EndpointNotAllowed):
            worker.admit(bound_request(token), task_name=TASK_NAME)


# --- the allowlist as configured -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "origin"),
    [
        ("https://bedrock.internal.example", "https://bedrock.internal.example:443"),
        ("HTTP://127.0.0.1:8750/", "http://127.0.0.1:8750"),
        (" loopback ", "loopback"),
        ("Bedrock", "bedrock"),
    ],
)
def test_an_allowlist_entry_is_an_origin_or_a_keyword(entry, origin):
    assert endpoint_origin(entry) == origin


@pytest.mark.parametrize(
    "entry", ["https://h:99999", "https://h/path", "http://a\\@b", "*.amazonaws.com", "loopbacks"]
)
def test_a_bad_allowlist_entry_is_a_value_error_that_names_the_keywords(entry):
    with pytest.raises(ValueError, match="keyword bedrock or loopback"):
        endpoint_origin(entry)
    with pytest.raises(WorkerMisconfigured, match="BATON_ALLOWED_ENDPOINTS"):
        policy_with(entry)


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("BATON_ALLOWED_ENDPOINTS", "https://h:99999", "not a number from 1 to 65535"),
        ("BATON_ALLOWED_ENDPOINTS", "loopback,http://a\\@b", "backslash"),
        ("BATON_ALLOW_INSECURE_ENDPOINTS", "emulator", "has no port"),
        ("BATON_ALLOW_INSECURE_ENDPOINTS", "http://emulator:8750", "host:port"),
    ],
)
def test_a_bad_endpoint_setting_fails_when_settings_are_read(monkeypatch, variable, value, problem):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=problem):
        WorkerSettings()


def test_the_endpoint_settings_of_a_local_fleet_are_accepted(monkeypatch):
    monkeypatch.setenv("BATON_ALLOWED_ENDPOINTS", "bedrock, loopback, http://emulator:8750")
    monkeypatch.setenv("BATON_ALLOW_INSECURE_ENDPOINTS", "emulator:8750")
    settings = WorkerSettings()
    policy = FleetPolicy.for_worker(
        allowed_regions=["eu-west-1"],
        consumed_queues=[],
        allowed_endpoints=settings.allowed_endpoints,
        insecure_endpoints=settings.insecure_endpoints,
    )
    policy.check(from_wire("http://emulator:8750"))
    policy.check(from_wire("http://127.0.0.1:8750"))
    policy.check(from_wire("https://bedrock-runtime.eu-west-1.amazonaws.com"))


def test_plain_http_off_this_machine_needs_the_insecure_opt_in_as_well():
    with pytest.raises(WorkerMisconfigured, match="BATON_ALLOW_INSECURE_ENDPOINTS"):
        policy_with("http://emulator:8750")
    with pytest.raises(WorkerMisconfigured, match="BATON_ALLOW_INSECURE_ENDPOINTS"):
        policy_with("http://emulator:8750", insecure=frozenset({"emulator:8751"}))
    policy_with("http://emulator:8750", insecure=frozenset({"emulator:8750"})).check(
        from_wire("http://emulator:8750")
    )


# --- where AssumeRole goes -----------------------------------------------------------------------

ROLE = AssumeRoleAuth(role_arn="arn:aws:iam::111122223333:role/baton")


@pytest.mark.parametrize(
    ("endpoint", "sts"),
    [
        (None, None),
        ("http://127.0.0.1:8750", "http://127.0.0.1:8750"),
        ("http://[::1]:8750", "http://[::1]:8750"),
        ("https://bedrock-runtime.eu-west-1.amazonaws.com", None),
        ("https://vpce-0a1.bedrock-runtime.eu-west-1.vpce.amazonaws.com", None),
        # The review's finding: urlsplit read localhost, and AssumeRole went in cleartext to
        # remote.example, where urllib3 connects.
        ("http://remote.example\\@localhost", None),
        ("http://remote.example\\@127.0.0.1:8750", None),
        ("http://localhost:99999", None),
    ],
)
def test_assume_role_goes_to_the_regional_https_sts_unless_bedrock_is_on_loopback(endpoint, sts):
    assert _sts_endpoint(from_wire(endpoint).model_copy(update={"auth": ROLE})) == sts
