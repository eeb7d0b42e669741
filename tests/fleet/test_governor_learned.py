"""What the governor learns on fakeredis where no quota is configured: the requests rate after
slow start, and a tokens quota from Bedrock's "Too many tokens"."""

from __future__ import annotations

import pytest

from fleet import AdmissionTimedOut, Governor, QuotaKey, QuotaTable
from fleet.governor import TOKEN_BUCKET_SECONDS
from fleet.learning import (
    ALPHA,
    BETA,
    KNEE,
    PACE_GAIN,
    PROBE,
    PROBE_FLOOR,
    TOKENS_BETA,
    TOKENS_PROBE,
)

KEY = QuotaKey("eu-west-1", "eu.anthropic.claude-sonnet-4-20250514-v1:0")


@pytest.fixture()
def redis_client(fake_redis):
    return fake_redis.client()


def _governor(redis_client, cut_spacing=1.0):
    return Governor(redis_client, sleep=lambda _: None, cut_spacing=cut_spacing)


def _state(redis_client, field):
    value = redis_client.hget(KEY.redis_key, field)
    return None if value is None else float(value)


def _learn_tokens(redis_client, governor):
    """Two calls of 3,000 tokens start at once (slow start's burst); Bedrock takes the first and
    answers the second "Too many tokens": 3,000 spent, and Bedrock short of another 3,000."""
    first = governor.admit(KEY, reserved_tokens=3000, max_wait=60)
    second = governor.admit(KEY, reserved_tokens=3000, max_wait=60)
    settled = governor.settle(second, outcome="throttled_tokens", used_tokens=None)
    return first, second, settled


def test_too_many_tokens_teaches_an_unconfigured_key_a_tokens_quota_that_then_holds_calls_back(
    redis_client,
):
    governor = _governor(redis_client)
    first, second, settled = _learn_tokens(redis_client, governor)
    # 3,000 in flight and half the throttled call's 3,000 short: 4,500 a bucket's length
    learned = _state(redis_client, "tps_l")
    assert settled.cut
    assert learned == pytest.approx(4500 / TOKEN_BUCKET_SECONDS, rel=0.01)
    assert settled.rate == second.rate  # the requests rate is another quota's: not cut
    with pytest.raises(AdmissionTimedOut):  # the bucket is empty: 40 s to refill 3,000
        governor.admit(KEY, reserved_tokens=3000, max_wait=1)
    governor.settle(first, outcome="ok", used_tokens=100)  # gives 2,900 back, as Bedrock does
    ticket = governor.admit(KEY, reserved_tokens=2800, max_wait=1)
    assert ticket.waited == pytest.approx(0, abs=0.05)


def test_too_many_requests_teaches_no_tokens_quota(redis_client):
    governor = _governor(redis_client)
    ticket = governor.admit(KEY, reserved_tokens=3000, max_wait=60)
    assert governor.settle(ticket, outcome="throttled", used_tokens=None).cut
    assert _state(redis_client, "tps_l") is None
    assert governor.admit(KEY, reserved_tokens=60_000, max_wait=0)  # no tokens bucket


def test_a_tokens_throttle_of_a_call_admitted_before_the_last_is_the_same_congestion(
    redis_client,
):
    governor = _governor(redis_client, cut_spacing=0)
    first, _, _ = _learn_tokens(redis_client, governor)
    learned = _state(redis_client, "tps_l")
    again = governor.settle(first, outcome="throttled_tokens", used_tokens=None)
    assert not again.cut
    assert _state(redis_client, "tps_l") == learned


def test_a_later_tokens_throttle_cuts_the_learned_quota_by_at_most_the_tokens_beta(
    redis_client,
):
    governor = _governor(redis_client, cut_spacing=0)
    first, _, _ = _learn_tokens(redis_client, governor)
    learned = _state(redis_client, "tps_l")
    governor.settle(first, outcome="ok", used_tokens=100)
    later = governor.admit(KEY, reserved_tokens=2800, max_wait=1)
    assert governor.settle(later, outcome="throttled_tokens", used_tokens=None).cut
    # the ledgers' floor (100 used) is far lower: the cut is the tokens beta
    assert _state(redis_client, "tps_l") == pytest.approx(learned * TOKENS_BETA, rel=1e-3)
    assert _state(redis_client, "lvl") <= 0  # Bedrock said the bucket is short


def test_a_success_probes_the_learned_tokens_quota_up(redis_client):
    governor = _governor(redis_client)
    first, _, _ = _learn_tokens(redis_client, governor)
    learned = _state(redis_client, "tps_l")
    probed = _state(redis_client, "tp_at")
    redis_client.hset(KEY.redis_key, "tp_at", probed - 5)  # last probed 5 s ago: counts as 1 s
    governor.settle(first, outcome="ok", used_tokens=100)
    assert _state(redis_client, "tps_l") == pytest.approx(learned * (1 + TOKENS_PROBE), rel=1e-3)


def test_a_throttled_call_sent_before_the_level_was_learned_gives_nothing_back_to_it(
    redis_client,
):
    governor = _governor(redis_client)
    first, _, _ = _learn_tokens(redis_client, governor)
    level = _state(redis_client, "lvl")
    governor.settle(first, outcome="throttled", used_tokens=None)  # the bucket never held it
    assert _state(redis_client, "lvl") < level + 100  # the refill of a few ms, not 3,000


@pytest.mark.parametrize(("rate", "knee"), [(12.0, 12.0), (10.5, 10 * PACE_GAIN)])
def test_after_slow_start_a_throttle_cuts_to_the_pace_gain_of_what_bedrock_delivered(
    redis_client, rate, knee
):
    governor = _governor(redis_client, cut_spacing=0)
    # out of slow start, of which Bedrock delivered 10 a second over the window
    redis_client.hset(KEY.redis_key, mapping={"ss": 0, "rate": rate, "dprev": 10})
    ticket = governor.admit(KEY, reserved_tokens=1, max_wait=60)
    settled = governor.settle(ticket, outcome="throttled", used_tokens=None)
    assert settled.rate == pytest.approx(max(rate * BETA, 10 * PACE_GAIN))
    # a cut by more than a tenth grows back to the rate cut from; a smaller one probes from there
    assert (settled.rate < rate * KNEE) == (knee == rate)
    assert _state(redis_client, "knee") == pytest.approx(knee)


def test_a_cut_is_taken_from_the_rate_the_throttled_call_was_admitted_at(redis_client):
    governor = _governor(redis_client)
    redis_client.hset(KEY.redis_key, mapping={"ss": 0, "rate": 12, "dprev": 10})
    ticket = governor.admit(KEY, reserved_tokens=1, max_wait=60)
    redis_client.hset(KEY.redis_key, "rate", 30)  # grown since, by calls admitted after it
    settled = governor.settle(ticket, outcome="throttled", used_tokens=None)
    assert settled.rate == pytest.approx(max(12 * BETA, 10 * PACE_GAIN))


def test_a_cut_rate_grows_back_by_alpha_below_the_knee_and_by_the_probe_above_it(redis_client):
    governor = _governor(redis_client)
    # the fleet asked for 20 calls in the last second: room to grow
    redis_client.hset(KEY.redis_key, mapping={"ss": 0, "rate": 9, "knee": 10, "adm_prev": 20})
    ticket = governor.admit(KEY, reserved_tokens=1, max_wait=60)
    assert governor.settle(ticket, outcome="ok", used_tokens=1).rate == pytest.approx(9 + ALPHA / 9)
    redis_client.hset(KEY.redis_key, "rate", 11)
    ticket = governor.admit(KEY, reserved_tokens=1, max_wait=60)
    assert governor.settle(ticket, outcome="ok", used_tokens=1).rate == pytest.approx(11 + PROBE)
    redis_client.hset(KEY.redis_key, mapping={"rate": 2, "knee": 1.5})  # 1 % of 2 is too slow
    ticket = governor.admit(KEY, reserved_tokens=1, max_wait=60)
    grown = governor.settle(ticket, outcome="ok", used_tokens=1).rate
    assert grown == pytest.approx(2 + PROBE_FLOOR / 2)


def test_a_configured_tokens_quota_is_never_learned_but_its_level_is_set_by_a_throttle(
    redis_client,
):
    governor = Governor(
        redis_client,
        quotas=QuotaTable.parse('{"*": {"tokens_per_minute": 60000}}'),
        sleep=lambda _: None,
    )
    ticket = governor.admit(KEY, reserved_tokens=3000, max_wait=60)
    assert governor.settle(ticket, outcome="throttled_tokens", used_tokens=None).cut
    assert _state(redis_client, "tps_l") is None
    assert _state(redis_client, "sa") is None  # no ledger kept: nothing to learn
    assert _state(redis_client, "lvl") <= 0
