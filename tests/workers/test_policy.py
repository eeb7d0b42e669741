"""The fleet policy: explicit regions, else the regions of the consumed queues, else refuse."""

from __future__ import annotations

import pytest

from tests.factories import make_envelope
from workers import EndpointNotAllowed, FleetPolicy, RegionNotAllowed, WorkerMisconfigured
from workers.policy import regions_of_queues


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


def policy_with(*endpoints: str) -> FleetPolicy:
    return FleetPolicy.for_worker(
        allowed_regions=["eu-west-1"], consumed_queues=[], allowed_endpoints=endpoints
    )


@pytest.mark.parametrize(
    ("endpoint", "allowed"),
    [
        (None, True),
        ("https://bedrock-runtime.eu-west-1.amazonaws.com", True),
        ("https://vpce-0abc.bedrock-runtime.eu-west-1.vpce.amazonaws.com", True),
        ("http://127.0.0.1:8750", True),
        ("https://attacker.example.com", False),
        ("https://amazonaws.com.attacker.example", False),
    ],
)
def test_without_an_allowlist_only_aws_and_loopback_endpoints_are_served(endpoint, allowed):
    envelope = make_envelope(endpoint_url=endpoint)
    if allowed:
        policy_with().check(envelope)
    else:
        with pytest.raises(EndpointNotAllowed, match="BATON_ALLOWED_ENDPOINTS"):
            policy_with().check(envelope)


def test_an_allowlist_admits_exactly_its_origins():
    policy = policy_with("https://bedrock.internal.example:443", "http://127.0.0.1:8750")
    policy.check(make_envelope(endpoint_url="https://bedrock.internal.example"))
    policy.check(make_envelope(endpoint_url="http://127.0.0.1:8750/"))
    with pytest.raises(EndpointNotAllowed):
        policy.check(make_envelope(endpoint_url="http://127.0.0.1:8751"))
    with pytest.raises(EndpointNotAllowed):
        policy.check(make_envelope(endpoint_url="https://bedrock-runtime.eu-west-1.amazonaws.com"))
