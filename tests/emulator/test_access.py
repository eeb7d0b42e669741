"""The IAM policy the emulator enforces: region shortcut, policy files, the cross-region rule."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from emulator import OTHER_ACCESS_KEY_ID, OTHER_SECRET_ACCESS_KEY
from emulator.access import ACTION, AccessPolicy, RegionPolicy, resource_arn
from emulator.iam import Decision, PolicyDocument
from emulator.profiles import ProfileRegistry
from envelope import EMULATOR_REGIONS_HEADER, destinations

US_PROFILE = "us.anthropic.claude-sonnet-4-20250514-v1:0"
EU_PROFILE = "eu.anthropic.claude-sonnet-4-20250514-v1:0"
BASE_MODEL = "anthropic.claude-sonnet-4-20250514-v1:0"


def test_a_profile_id_is_authorised_as_an_inference_profile_of_the_source_region():
    arn = resource_arn(EU_PROFILE, region="eu-west-1", account_id="111122223333")

    assert arn == f"arn:aws:bedrock:eu-west-1:111122223333:inference-profile/{EU_PROFILE}"


def test_a_bare_model_id_is_authorised_as_a_foundation_model_without_account():
    arn = resource_arn(BASE_MODEL, region="eu-west-1", account_id="111122223333")

    assert arn == f"arn:aws:bedrock:eu-west-1::foundation-model/{BASE_MODEL}"


def test_an_arn_is_authorised_as_itself():
    arn = "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/x1"

    assert resource_arn(arn, region="eu-west-1", account_id="111122223333") == arn


def test_policy_allows_only_resources_in_its_regions():
    policy = RegionPolicy.of(["eu-west-1"])

    assert policy.allows("arn:aws:bedrock:eu-west-1:111122223333:inference-profile/x")
    assert policy.allows("arn:aws:bedrock:eu-west-1::foundation-model/x")
    assert not policy.allows("arn:aws:bedrock:us-east-1::foundation-model/x")
    assert not policy.allows("arn:aws:s3:eu-west-1::bucket")
    assert not RegionPolicy.of([]).allows("arn:aws:bedrock:eu-west-1::foundation-model/x")


def test_policy_statements_are_one_allow_per_region():
    statements = RegionPolicy.of(["eu-west-3", "eu-west-1"]).statements()

    assert [s["Resource"] for s in statements] == [
        "arn:aws:bedrock:eu-west-1:*:*",
        "arn:aws:bedrock:eu-west-3:*:*",
    ]
    assert {s["Effect"] for s in statements} == {"Allow"}


def test_converse_from_a_disallowed_region_is_denied_with_the_exact_resource(emulator, make_client):
    client = make_client(emulator, region="us-east-1")

    with pytest.raises(ClientError) as caught:
        client.converse(modelId=US_PROFILE, messages=[{"role": "user", "content": [{"text": "x"}]}])

    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error["Error"]["Code"] == "AccessDeniedException"
    assert error["Error"]["Message"] == (
        "User: arn:aws:iam::111122223333:user/baton-test is not authorized to perform: "
        "bedrock:InvokeModel on resource: arn:aws:bedrock:us-east-1:111122223333:"
        f"inference-profile/{US_PROFILE} because no identity-based policy allows the "
        "bedrock:InvokeModel action"
    )


def test_access_denied_body_uses_a_capital_m_and_the_error_type_header(emulator, wire):
    path = wire.model_path(US_PROFILE)
    body = wire.converse_body()
    headers = wire.sign(emulator, path, body, region="us-east-1")

    response = wire.send(emulator, "POST", path, body=body, headers=headers)

    assert response.status == 403
    assert response.headers["x-amzn-ErrorType"] == "AccessDeniedException"
    assert response.headers["Content-Type"] == "application/json"
    assert list(response.json()) == ["Message"]


def test_a_bare_model_id_denied_names_the_foundation_model_arn(emulator, make_client):
    client = make_client(emulator, region="us-east-1")

    with pytest.raises(ClientError) as caught:
        client.converse(modelId=BASE_MODEL, messages=[{"role": "user", "content": [{"text": "x"}]}])

    assert (
        f"on resource: arn:aws:bedrock:us-east-1::foundation-model/{BASE_MODEL} because"
        in caught.value.response["Error"]["Message"]
    )


def test_the_denial_names_the_caller_identity(emulator, make_client):
    client = make_client(
        emulator,
        region="us-west-2",
        access_key=OTHER_ACCESS_KEY_ID,
        secret_key=OTHER_SECRET_ACCESS_KEY,
    )

    with pytest.raises(ClientError) as caught:
        client.converse(modelId=US_PROFILE, messages=[{"role": "user", "content": [{"text": "x"}]}])

    assert caught.value.response["Error"]["Message"].startswith(
        "User: arn:aws:iam::111122223333:user/baton-other is not authorized"
    )


def test_an_emulator_with_no_allowed_region_denies_everything(make_emulator, make_client):
    emulator = make_emulator(allowed_regions=frozenset())
    client = make_client(emulator, region="eu-west-1")

    with pytest.raises(ClientError) as caught:
        client.converse(modelId=EU_PROFILE, messages=[{"role": "user", "content": [{"text": "x"}]}])

    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"


def test_policy_is_checked_before_the_model_id(emulator, make_client):
    client = make_client(emulator, region="us-east-1")

    with pytest.raises(ClientError) as caught:
        client.converse(
            modelId="eu.no-such-model-v1:0", messages=[{"role": "user", "content": [{"text": "x"}]}]
        )

    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"


# --- policy files and the cross-region rule ------------------------------------------------

EU_DESTINATIONS = destinations("eu", source_region="eu-west-1")
PROFILE_ARN = f"arn:aws:bedrock:eu-west-1:111122223333:inference-profile/{EU_PROFILE}"
MESSAGES = [{"role": "user", "content": [{"text": "x"}]}]


def _fm(region: str) -> str:
    return f"arn:aws:bedrock:{region}::foundation-model/{BASE_MODEL}"


def _least_privilege(*, regions=EU_DESTINATIONS, actions=("bedrock:InvokeModel",)) -> list[dict]:
    return [
        {"Effect": "Allow", "Action": list(actions), "Resource": PROFILE_ARN},
        {
            "Effect": "Allow",
            "Action": list(actions),
            "Resource": [_fm(region) for region in regions],
            "Condition": {"StringEquals": {"bedrock:InferenceProfileArn": PROFILE_ARN}},
        },
    ]


def _denied(client) -> str:
    with pytest.raises(ClientError) as caught:
        client.converse(modelId=EU_PROFILE, messages=MESSAGES)
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"
    return caught.value.response["Error"]["Message"]


def test_the_profile_plus_every_destination_model_is_enough(
    make_emulator, make_client, policy_file
):
    emulator = make_emulator(allowed_regions=(), policy=policy_file(*_least_privilege()))

    reply = make_client(emulator).converse(modelId=EU_PROFILE, messages=MESSAGES)

    assert reply["stopReason"] == "end_turn"


def test_a_missing_destination_model_is_the_resource_the_403_names(
    make_emulator, make_client, policy_file
):
    regions = tuple(r for r in EU_DESTINATIONS if r != "eu-north-1")
    emulator = make_emulator(
        allowed_regions=(), policy=policy_file(*_least_privilege(regions=regions))
    )

    message = _denied(make_client(emulator))

    assert f"on resource: {_fm('eu-north-1')} because no identity-based policy allows" in message


def test_the_profile_alone_is_not_enough(make_emulator, make_client, policy_file):
    emulator = make_emulator(allowed_regions=(), policy=policy_file(_least_privilege()[0]))

    message = _denied(make_client(emulator))

    assert f"on resource: {_fm('eu-west-1')} because" in message


def test_a_model_grant_conditioned_on_another_profile_does_not_count(
    make_emulator, make_client, policy_file
):
    profile, models = _least_privilege()
    models["Condition"] = {"StringEquals": {"bedrock:InferenceProfileArn": PROFILE_ARN + "x"}}
    emulator = make_emulator(allowed_regions=(), policy=policy_file(profile, models))

    assert f"resource: {_fm('eu-west-1')} because" in _denied(make_client(emulator))


def test_an_explicit_deny_on_one_destination_wins_over_the_region_shortcut(
    make_emulator, make_client, policy_file
):
    deny = {"Effect": "Deny", "Action": "bedrock:*", "Resource": "arn:aws:bedrock:eu-central-1:*:*"}
    emulator = make_emulator(allowed_regions={"eu-west-1"}, policy=policy_file(deny))

    message = _denied(make_client(emulator))

    assert message.endswith(
        f"on resource: {_fm('eu-central-1')} with an explicit deny in an identity-based policy"
    )


def test_converse_stream_needs_invoke_model_with_response_stream(
    make_emulator, make_client, policy_file
):
    emulator = make_emulator(allowed_regions=(), policy=policy_file(*_least_privilege()))
    client = make_client(emulator)

    with pytest.raises(ClientError) as caught:
        client.converse_stream(modelId=EU_PROFILE, messages=MESSAGES)

    assert caught.value.response["Error"]["Message"] == (
        "User: arn:aws:iam::111122223333:user/baton-test is not authorized to perform: "
        f"bedrock:InvokeModelWithResponseStream on resource: {PROFILE_ARN} because no "
        "identity-based policy allows the bedrock:InvokeModelWithResponseStream action"
    )


def test_a_requested_region_condition_scopes_a_broad_grant(make_emulator, make_client, policy_file):
    grant = {
        "Effect": "Allow",
        "Action": "bedrock:Invoke*",
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}},
    }
    emulator = make_emulator(allowed_regions=(), policy=policy_file(grant))

    assert make_client(emulator).converse(modelId=EU_PROFILE, messages=MESSAGES)["output"]
    with pytest.raises(ClientError) as caught:
        make_client(emulator, region="us-east-1").converse(modelId=US_PROFILE, messages=MESSAGES)
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"


def test_the_region_shortcut_reaches_destinations_only_through_its_regions_profiles():
    document = RegionPolicy.of(["eu-west-1"]).document()
    through_eu = {"aws:requestedregion": "eu-west-1", "bedrock:inferenceprofilearn": PROFILE_ARN}
    through_us = {
        "aws:requestedregion": "us-east-1",
        "bedrock:inferenceprofilearn": f"arn:aws:bedrock:us-east-1:1:{US_PROFILE}",
    }

    assert document.evaluate(ACTION, _fm("eu-central-1"), through_eu) is Decision.ALLOW
    assert document.evaluate(ACTION, _fm("us-east-2"), through_us) is Decision.IMPLICIT_DENY
    assert document.evaluate(
        ACTION, _fm("eu-central-1"), {"aws:requestedregion": "eu-central-1"}
    ) is (Decision.IMPLICIT_DENY)


def test_grants_of_a_profile_call_are_the_profile_then_each_destination_model():
    access = AccessPolicy(PolicyDocument(), ProfileRegistry())

    grants = access.grants(EU_PROFILE, region="eu-west-1", account_id="111122223333")

    assert [g.resource for g in grants] == [PROFILE_ARN, *(_fm(r) for r in EU_DESTINATIONS)]
    assert {g.profile_arn for g in grants[1:]} == {PROFILE_ARN}
    assert grants[0].profile_arn is None
    assert [g.resource for g in access.grants(BASE_MODEL, region="eu-west-1", account_id="1")] == [
        _fm("eu-west-1")
    ]


def test_an_application_profile_needs_its_destination_models_too(
    make_emulator, make_client, policy_file
):
    app_arn = "arn:aws:bedrock:eu-west-1:111122223333:application-inference-profile/team-a"
    grant = {"Effect": "Allow", "Action": "bedrock:InvokeModel", "Resource": app_arn}
    emulator = make_emulator(
        allowed_regions=(), app_profiles={"team-a": EU_PROFILE}, policy=policy_file(grant)
    )
    client = make_client(emulator)

    with pytest.raises(ClientError) as caught:
        client.converse(modelId=app_arn, messages=MESSAGES)

    assert f"on resource: {_fm('eu-west-1')} because" in caught.value.response["Error"]["Message"]


def test_a_403_names_the_allowed_regions_in_the_emulator_header_and_its_body_stays_bedrocks(
    make_emulator, make_client
):
    emulator = make_emulator(allowed_regions=frozenset({"eu-west-1", "eu-central-1"}))

    with pytest.raises(ClientError) as caught:
        make_client(emulator, region="eu-west-2").converse(modelId=EU_PROFILE, messages=MESSAGES)

    response = caught.value.response
    assert response["ResponseMetadata"]["HTTPHeaders"][EMULATOR_REGIONS_HEADER] == (
        "eu-central-1,eu-west-1"
    )
    assert response["Error"]["Message"].endswith(
        "because no identity-based policy allows the bedrock:InvokeModel action"
    )
