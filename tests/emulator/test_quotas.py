"""Per-model quotas: the accounting on a fake clock, then real boto3 calls and the admin API."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from emulator import ConfigurationError
from emulator.admin import QUOTAS_PATH
from emulator.errors import Throttling
from emulator.quotas import (
    TOO_MANY_REQUESTS,
    TOO_MANY_TOKENS,
    QuotaBook,
    QuotaSettings,
    reserved_tokens,
    used_tokens,
)

EU_PROFILE = "eu.anthropic.claude-sonnet-4-20250514-v1:0"
ON_DEMAND = "anthropic.claude-3-haiku-20240307-v1:0"
MESSAGES = [{"role": "user", "content": [{"text": "x"}]}]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _book(**settings):
    clock = Clock()
    return QuotaBook(QuotaSettings(**settings), clock=clock), clock


def _admit(book, tokens=1, model=EU_PROFILE, region="eu-west-1"):
    return book.admit(region=region, model_id=model, reserved_tokens=tokens)


def test_requests_quota_admits_its_burst_then_says_too_many_requests():
    book, _ = _book(requests_per_minute=600)
    for _ in range(10):
        _admit(book)
    with pytest.raises(Throttling) as caught:
        _admit(book)
    assert caught.value.message == TOO_MANY_REQUESTS
    assert caught.value.status == 429


def test_requests_quota_refills_at_its_per_minute_rate():
    book, clock = _book(requests_per_minute=600)
    for _ in range(10):
        _admit(book)
    clock.now += 0.1  # one request's worth at 10 a second
    _admit(book)
    with pytest.raises(Throttling):
        _admit(book)


def test_on_demand_and_cross_region_calls_and_each_region_have_quotas_of_their_own():
    book, _ = _book(requests_per_minute=60)
    _admit(book)
    with pytest.raises(Throttling):
        _admit(book)
    _admit(book, model=ON_DEMAND)
    _admit(book, region="eu-central-1")


def test_tokens_quota_reserves_at_admission_and_says_too_many_tokens():
    book, _ = _book(tokens_per_minute=6000)  # a bucket of the whole minute's 6,000
    _admit(book, tokens=4000)
    with pytest.raises(Throttling) as caught:
        _admit(book, tokens=4000)
    assert caught.value.message == TOO_MANY_TOKENS


def test_settlement_gives_back_what_the_call_did_not_use_when_it_ends():
    book, clock = _book(tokens_per_minute=6000)
    admission = _admit(book, tokens=4000)
    book.settle(admission, used_tokens=10, after=0.5)
    with pytest.raises(Throttling):
        _admit(book, tokens=4000)  # the refund is not due yet: 2,000 + 50 refilled
    clock.now += 0.5
    _admit(book, tokens=4000)  # 3,990 given back


def test_a_full_bucket_admits_a_call_larger_than_the_bucket_once():
    book, _ = _book(tokens_per_minute=600)  # a bucket of 600
    _admit(book, tokens=5000)
    with pytest.raises(Throttling):
        _admit(book, tokens=1)


def test_a_throttled_call_reserves_nothing():
    book, clock = _book(requests_per_minute=60, tokens_per_minute=6000)
    _admit(book, tokens=5990)
    with pytest.raises(Throttling) as caught:
        _admit(book, tokens=10)
    assert caught.value.message == TOO_MANY_REQUESTS
    clock.now += 1  # one request and 100 tokens refilled
    _admit(book, tokens=110)  # the throttled call's 10 tokens were not taken


def test_no_quota_admits_everything_without_an_admission():
    book, _ = _book()
    assert all(_admit(book) is None for _ in range(1000))


def test_reservation_is_input_words_plus_max_tokens_or_the_models_maximum():
    body = {"system": [{"text": "be brief"}], "messages": [{"content": [{"text": "a b c"}]}]}
    with_cap = {**body, "inferenceConfig": {"maxTokens": 100}}
    assert reserved_tokens(json.dumps(with_cap).encode(), max_output_tokens=64000) == 105
    assert reserved_tokens(json.dumps(body).encode(), max_output_tokens=64000) == 64005
    messages_api = {"max_tokens": 7, "messages": [{"content": "one two"}]}
    assert reserved_tokens(json.dumps(messages_api).encode(), max_output_tokens=9) == 9
    assert reserved_tokens(b"not json", max_output_tokens=9) == 9


def test_used_tokens_counts_output_at_the_burndown_rate_and_cache_tokens():
    usage = {"inputTokens": 10, "outputTokens": 4, "cacheReadInputTokens": 2}
    assert used_tokens(usage, burndown=5) == 32
    assert used_tokens({"input_tokens": 3, "output_tokens": 1}, burndown=1) == 4


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"requests_per_minute": 0}, "requests_per_minute must be a whole number"),
        ({"burst_seconds": 0}, "burst_seconds must be positive"),
        ({"per_hour": 3}, "unknown quota setting per_hour"),
        ({"tokens_per_minute": "lots"}, "tokens_per_minute must be a number"),
    ],
)
def test_bad_quota_settings_are_refused_naming_the_field(changes, complaint):
    with pytest.raises(ConfigurationError, match=complaint):
        QuotaSettings().updated(changes)


def test_boto3_sees_bedrocks_429_and_the_journal_records_which_quota(make_emulator, make_client):
    emulator = make_emulator(requests_per_minute=60)
    client = make_client(emulator)
    client.converse(modelId=EU_PROFILE, messages=MESSAGES)
    with pytest.raises(ClientError) as caught:
        client.converse(modelId=EU_PROFILE, messages=MESSAGES)
    error = caught.value.response
    assert error["Error"]["Code"] == "ThrottlingException"
    assert error["Error"]["Message"] == TOO_MANY_REQUESTS
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
    ok, throttled = emulator.calls()
    assert (ok.status, ok.message) == (200, None)
    assert (throttled.error_code, throttled.message) == ("ThrottlingException", TOO_MANY_REQUESTS)
    assert throttled.at >= ok.at > 0


def test_boto3_call_without_max_tokens_reserves_the_models_maximum(make_emulator, make_client):
    emulator = make_emulator(tokens_per_minute=600)  # a bucket of 600, 10 a second back
    client = make_client(emulator)
    for _ in range(3):  # each reserves about a dozen tokens and is settled to fewer
        client.converse(modelId=EU_PROFILE, messages=MESSAGES, inferenceConfig={"maxTokens": 10})
    with pytest.raises(ClientError) as caught:
        client.converse(modelId=EU_PROFILE, messages=MESSAGES)  # reserves 64,000 and more
    assert caught.value.response["Error"]["Message"] == TOO_MANY_TOKENS


def test_admin_api_sets_shows_and_lifts_the_quota(emulator, make_client, wire):
    client = make_client(emulator)
    body = json.dumps({"requests_per_minute": 60}).encode()
    assert wire.send(emulator, "POST", QUOTAS_PATH, body=body).json()["requests_per_minute"] == 60
    client.converse(modelId=EU_PROFILE, messages=MESSAGES)
    with pytest.raises(ClientError):
        client.converse(modelId=EU_PROFILE, messages=MESSAGES)
    assert wire.send(emulator, "GET", QUOTAS_PATH).json()["requests_per_minute"] == 60
    lifted = wire.send(emulator, "DELETE", QUOTAS_PATH).json()
    assert lifted["requests_per_minute"] is None
    client.converse(modelId=EU_PROFILE, messages=MESSAGES)


def test_admin_api_refuses_a_bad_quota_with_400_and_changes_nothing(emulator, wire):
    refused = wire.send(emulator, "POST", QUOTAS_PATH, body=b'{"requests_per_minute": -1}')
    assert refused.status == 400
    assert "requests_per_minute" in refused.json()["message"]
    assert emulator.quotas.requests_per_minute is None


def test_random_throttle_rate_still_works_beside_the_quota(make_emulator, make_client):
    emulator = make_emulator(requests_per_minute=6000, throttle_rate=1.0)
    with pytest.raises(ClientError) as caught:
        make_client(emulator).converse(modelId=EU_PROFILE, messages=MESSAGES)
    assert caught.value.response["Error"]["Code"] == "ThrottlingException"
