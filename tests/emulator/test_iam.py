"""The IAM policy subset: parsing, wildcards, conditions, and Deny over Allow."""

from __future__ import annotations

import pytest

from emulator import ConfigurationError
from emulator.iam import Decision, PolicyDocument

FM = "arn:aws:bedrock:eu-west-1::foundation-model/anthropic.claude-sonnet-4-20250514-v1:0"
PROFILE = (
    "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/"
    "eu.anthropic.claude-sonnet-4-20250514-v1:0"
)
IN_EU = {"aws:requestedregion": "eu-west-1"}


def _policy(*statements: dict) -> PolicyDocument:
    return PolicyDocument.from_json({"Version": "2012-10-17", "Statement": list(statements)})


def _allow(action="bedrock:InvokeModel", resource="*", **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def test_nothing_is_allowed_by_default():
    assert _policy().evaluate("bedrock:InvokeModel", FM, IN_EU) is Decision.IMPLICIT_DENY


def test_an_allow_matching_action_and_resource_allows():
    policy = _policy(_allow(resource=FM))

    assert policy.evaluate("bedrock:InvokeModel", FM, IN_EU) is Decision.ALLOW
    assert policy.evaluate("bedrock:InvokeModel", PROFILE, IN_EU) is Decision.IMPLICIT_DENY
    assert policy.evaluate("bedrock:GetInferenceProfile", FM, IN_EU) is Decision.IMPLICIT_DENY


def test_an_explicit_deny_wins_over_any_allow():
    policy = _policy(_allow(action="bedrock:*"), {"Effect": "Deny", "Action": "*", "Resource": FM})

    assert policy.evaluate("bedrock:InvokeModel", FM, IN_EU) is Decision.EXPLICIT_DENY
    assert policy.evaluate("bedrock:InvokeModel", PROFILE, IN_EU) is Decision.ALLOW


@pytest.mark.parametrize(
    ("pattern", "action", "matches"),
    [
        ("bedrock:*", "bedrock:InvokeModelWithResponseStream", True),
        ("bedrock:Invoke*", "bedrock:InvokeModel", True),
        ("bedrock:Invoke*", "bedrock:GetInferenceProfile", False),
        ("bedrock:invokemodel", "bedrock:InvokeModel", True),
        ("bedrock:InvokeMode?", "bedrock:InvokeModel", True),
        ("bedrock:InvokeMode?", "bedrock:InvokeModelWithResponseStream", False),
        ("s3:*", "bedrock:InvokeModel", False),
    ],
)
def test_action_wildcards_match_case_insensitively(pattern, action, matches):
    decision = _policy(_allow(action=pattern)).evaluate(action, FM, IN_EU)

    assert (decision is Decision.ALLOW) is matches


@pytest.mark.parametrize(
    ("pattern", "matches"),
    [
        ("arn:aws:bedrock:eu-west-1:*:*", True),
        ("arn:aws:bedrock:*::foundation-model/*", True),
        ("arn:aws:bedrock:eu-west-?::foundation-model/*", True),
        ("arn:aws:bedrock:eu-central-1:*:*", False),
        ("arn:aws:bedrock:EU-WEST-1:*:*", False),
        ("arn:aws:bedrock:eu-west-1::foundation-model/anthropic.claude-[s]*", False),
    ],
)
def test_resource_wildcards_span_arn_fields_and_are_case_sensitive(pattern, matches):
    decision = _policy(_allow(resource=pattern)).evaluate("bedrock:InvokeModel", FM, IN_EU)

    assert (decision is Decision.ALLOW) is matches


def test_lists_of_actions_and_resources_match_any_member():
    policy = _policy(_allow(action=["s3:GetObject", "bedrock:InvokeModel"], resource=["x", FM]))

    assert policy.evaluate("bedrock:InvokeModel", FM, IN_EU) is Decision.ALLOW


def test_a_single_statement_object_is_accepted():
    policy = PolicyDocument.from_json({"Statement": _allow()})

    assert policy.evaluate("bedrock:InvokeModel", FM, IN_EU) is Decision.ALLOW


@pytest.mark.parametrize(
    ("condition", "context", "allowed"),
    [
        ({"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}, IN_EU, True),
        ({"StringEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}}, IN_EU, True),
        ({"StringEquals": {"aws:RequestedRegion": "us-east-1"}}, IN_EU, False),
        ({"StringEquals": {"aws:requestedregion": "eu-west-1"}}, IN_EU, True),
        ({"StringNotEquals": {"aws:RequestedRegion": "eu-west-1"}}, IN_EU, False),
        ({"StringLike": {"aws:RequestedRegion": "eu-*"}}, IN_EU, True),
        ({"StringNotLike": {"aws:RequestedRegion": "us-*"}}, IN_EU, True),
        ({"StringEquals": {"bedrock:InferenceProfileArn": PROFILE}}, IN_EU, False),
        ({"StringEqualsIfExists": {"bedrock:InferenceProfileArn": PROFILE}}, IN_EU, True),
        ({"StringNotEquals": {"bedrock:InferenceProfileArn": PROFILE}}, IN_EU, True),
        (
            {"StringLike": {"bedrock:InferenceProfileArn": "arn:aws:bedrock:eu-west-1:*"}},
            {**IN_EU, "bedrock:inferenceprofilearn": PROFILE},
            True,
        ),
        (
            {
                "StringEquals": {"aws:RequestedRegion": "eu-west-1"},
                "StringLike": {"bedrock:InferenceProfileArn": "*us.*"},
            },
            {**IN_EU, "bedrock:inferenceprofilearn": PROFILE},
            False,
        ),
    ],
)
def test_conditions_follow_iam_semantics_including_absent_keys(condition, context, allowed):
    policy = _policy(_allow(Condition=condition))

    assert (policy.evaluate("bedrock:InvokeModel", FM, context) is Decision.ALLOW) is allowed


def test_policies_add_up_as_attached_policies_do():
    combined = _policy(_allow(resource=FM)) + _policy(
        {"Effect": "Deny", "Action": "*", "Resource": PROFILE}
    )

    assert combined.evaluate("bedrock:InvokeModel", FM, IN_EU) is Decision.ALLOW
    assert combined.evaluate("bedrock:InvokeModel", PROFILE, IN_EU) is Decision.EXPLICIT_DENY


@pytest.mark.parametrize(
    ("document", "complaint"),
    [
        ([], "must be a JSON object with a Statement"),
        ({"Statement": "x"}, "Statement must be an object or a list"),
        ({"Statement": [_allow(Effect="Maybe")]}, "Effect must be Allow or Deny"),
        ({"Statement": [{"Effect": "Allow", "Resource": "*"}]}, "Action must be a string"),
        ({"Statement": [_allow(resource=[])]}, "Resource must be a string or a non-empty list"),
        ({"Statement": [_allow(NotAction="x")]}, "NotAction is not supported"),
        ({"Statement": [_allow(Principal="*")]}, "Principal is not supported"),
        (
            {"Statement": [_allow(Condition={"IpAddress": {"aws:SourceIp": "1.2.3.4"}})]},
            "condition operator 'IpAddress' is not supported",
        ),
        (
            {"Statement": [_allow(Condition={"StringEquals": {"aws:SourceVpc": "v"}})]},
            "condition key 'aws:SourceVpc' is not supported",
        ),
    ],
)
def test_documents_outside_the_subset_are_refused_with_the_reason(document, complaint):
    with pytest.raises(ConfigurationError, match=complaint):
        PolicyDocument.from_json(document)


def test_a_policy_file_is_read_and_a_broken_one_is_named(tmp_path):
    good, broken = tmp_path / "good.json", tmp_path / "broken.json"
    good.write_text('{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}')
    broken.write_text("{not json")

    assert PolicyDocument.load(good).evaluate("bedrock:InvokeModel", FM, IN_EU) is Decision.ALLOW
    with pytest.raises(ConfigurationError, match=r"cannot read policy file .*broken\.json"):
        PolicyDocument.load(broken)
