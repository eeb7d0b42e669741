"""What a request draws on: its quota key from path and signature, its reservation from its body."""

from __future__ import annotations

import json

from fleet import (
    QuotaKey,
    input_tokens,
    quota_key,
    request_tokens,
    reserved_tokens,
    used_tokens,
)

AUTH = (
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261206/eu-west-1/bedrock/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=abc"
)
PROFILE = "eu.anthropic.claude-sonnet-4-20250514-v1:0"


def test_the_key_is_the_signed_region_and_the_model_id_of_the_path():
    path = "/model/eu.anthropic.claude-sonnet-4-20250514-v1%3A0/converse"
    assert quota_key(path=path, authorization=AUTH) == QuotaKey("eu-west-1", PROFILE)
    for operation in ("converse-stream", "invoke", "invoke-with-response-stream"):
        assert quota_key(path=f"/model/m/{operation}", authorization=AUTH).model_id == "m"


def test_calls_that_draw_on_no_model_quota_have_no_key():
    assert quota_key(path="/inference-profiles", authorization=AUTH) is None
    assert quota_key(path="/model/m/count-tokens", authorization=AUTH) is None
    assert quota_key(path="/model/m/converse", authorization="Bearer token") is None
    assert quota_key(path="/model/m/converse", authorization=None) is None


def test_reservation_is_the_estimated_input_plus_max_tokens_or_the_models_maximum():
    body = {"messages": [{"role": "user", "content": [{"text": "x" * 296}]}]}
    raw = json.dumps(body).encode()  # 296 + "user": 300 characters of text, 100 tokens
    capped = json.dumps({**body, "inferenceConfig": {"maxTokens": 100}}).encode()
    assert reserved_tokens(raw, max_output_tokens=64000) == 100 + 64000
    assert reserved_tokens(capped, max_output_tokens=64000) == 100 + 100
    anthropic = json.dumps({"max_tokens": 50, "messages": [{"content": "abcdef"}]})
    assert reserved_tokens(anthropic, max_output_tokens=9) == 2 + 50
    assert reserved_tokens(b"[[[", max_output_tokens=9) == 1 + 9  # not JSON: all of it
    assert reserved_tokens(None, max_output_tokens=9) == 9


def test_used_tokens_adds_input_output_and_cache_in_either_api_shape():
    converse = {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15, "cacheReadInputTokens": 2}
    assert used_tokens(converse) == 17
    assert used_tokens({"input_tokens": 3, "output_tokens": 4}) == 7
    assert used_tokens(None) is None


def test_the_input_estimate_and_the_output_cap_are_told_apart():
    body = json.dumps(
        {
            "messages": [{"role": "user", "content": [{"text": "x" * 30}]}],
            "inferenceConfig": {"maxTokens": 100},
        }
    )
    estimate, cap = request_tokens(body, max_output_tokens=64_000)
    assert (estimate, cap) == (12, 100)  # "user" and 30 characters at 3 a token, rounded up
    assert reserved_tokens(body, max_output_tokens=64_000) == estimate + cap
    assert request_tokens(b"not json", max_output_tokens=500) == (2, 500)


def test_input_tokens_are_the_input_and_cache_counts_without_the_output():
    converse = {
        "inputTokens": 10,
        "outputTokens": 5,
        "cacheReadInputTokens": 3,
        "cacheWriteInputTokens": 2,
    }
    messages = {"input_tokens": 7, "output_tokens": 4, "cache_creation_input_tokens": 1}
    assert input_tokens(converse) == 15
    assert input_tokens(messages) == 8
    assert input_tokens(None) is None
