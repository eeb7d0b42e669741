"""The governor on fakeredis: pacing to a configured quota, learning one, and waiting bounded."""

from __future__ import annotations

import itertools
import threading
import time

import pytest

from fleet import (
    AdmissionTimedOut,
    Governor,
    QuotaKey,
    QuotaTable,
    Ticket,
    mark_waiting,
    waiting_for,
    waiting_key,
)
from fleet import governor as governor_module
from fleet.governor import (
    ALPHA,
    BURST_SECONDS,
    CALIBRATION_WEIGHT,
    HEADROOM,
    HORIZON,
    INITIAL_RATE,
    MAX_POLL,
)
from fleet.learning import SLOW_START_BETA

KEY = QuotaKey("eu-west-1", "eu.anthropic.claude-sonnet-4-20250514-v1:0")


class Sleeps:
    """Record the waits instead of sleeping; the schedule is Redis's, so no clock is faked."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture()
def redis_client(fake_redis):
    return fake_redis.client()


def _governor(redis_client, quotas=None):
    sleeps = Sleeps()
    table = QuotaTable.parse(quotas) if quotas else None
    return Governor(redis_client, quotas=table, sleep=sleeps), sleeps


def test_calls_start_one_interval_apart_after_a_short_burst_under_a_requests_quota(
    redis_client, frozen_redis_clock
):
    governor, sleeps = _governor(redis_client, '{"*": {"requests_per_minute": 600}}')
    tickets = [governor.admit(KEY, reserved_tokens=10, max_wait=60) for _ in range(9)]
    starts = [ticket.started for ticket in tickets]
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    interval = 60 / (600 * HEADROOM)
    burst = int(BURST_SECONDS / interval) + 1  # 5 calls at once after a pause
    assert starts[:burst] == pytest.approx([frozen_redis_clock] * burst, abs=1e-3)
    assert gaps[burst:] == pytest.approx([interval] * 3, abs=1e-3)  # Lua keeps 14 digits
    assert tickets[0].rate == pytest.approx(10 * HEADROOM)
    assert len(sleeps.waits) == 9 - burst


def test_two_governors_on_one_redis_share_one_schedule(redis_client, fake_redis):
    quotas = '{"*": {"requests_per_minute": 60}}'
    first, _ = _governor(redis_client, quotas)
    second, _ = _governor(fake_redis.client(), quotas)
    ticket = first.admit(KEY, reserved_tokens=1, max_wait=60)
    with pytest.raises(AdmissionTimedOut):
        second.admit(KEY, reserved_tokens=1, max_wait=0.5)  # next start is ~1.05 s away
    assert second.rate(KEY) == pytest.approx(HEADROOM)
    assert first.admit(QuotaKey("eu-west-1", "other-model"), reserved_tokens=1, max_wait=0)
    assert ticket.waited == pytest.approx(0, abs=0.05)


def test_a_call_that_would_wait_past_its_limit_fails_naming_the_key_and_rate(redis_client):
    governor, _ = _governor(redis_client, '{"*": {"requests_per_minute": 6}}')
    governor.admit(KEY, reserved_tokens=1, max_wait=60)
    with pytest.raises(AdmissionTimedOut) as caught:
        governor.admit(KEY, reserved_tokens=1, max_wait=5)
    message = str(caught.value)
    assert str(KEY) in message
    assert f"{6 * HEADROOM:.1f} calls a minute" in message
    assert caught.value.code == "admission_timed_out"


def test_a_waiting_call_polls_and_says_it_waits_before_each_poll(redis_client):
    class Stop(Exception):
        pass

    def sleep(seconds):
        sleeps.append(seconds)
        if len(sleeps) == 3:
            raise Stop

    sleeps: list[float] = []
    quotas = QuotaTable.parse('{"*": {"requests_per_minute": 60}}')
    governor = Governor(redis_client, quotas=quotas, sleep=sleep)
    governor.admit(KEY, reserved_tokens=1, max_wait=60)
    told = []
    with pytest.raises(Stop):  # the fake sleep lets no time pass: the call would poll forever
        governor.admit(KEY, reserved_tokens=1, max_wait=60, on_wait=told.append)
    assert told == [pytest.approx(HEADROOM)] * 3
    assert all(0 < wait <= MAX_POLL for wait in sleeps)


def test_tokens_are_reserved_at_admission_and_the_unused_part_given_back(redis_client):
    # 6,000 a minute: a bucket of 5,880 (98 %), refilled at 98 a second
    governor, _ = _governor(redis_client, '{"*": {"tokens_per_minute": 6000}}')
    first = governor.admit(KEY, reserved_tokens=5000, max_wait=60)
    with pytest.raises(AdmissionTimedOut):
        governor.admit(KEY, reserved_tokens=1000, max_wait=1)  # 700 left: 3 s to refill
    governor.settle(first, outcome="ok", used_tokens=100)
    second = governor.admit(KEY, reserved_tokens=1000, max_wait=1)
    assert second.waited == pytest.approx(0, abs=0.05)


def test_a_full_tokens_bucket_admits_a_call_larger_than_itself(redis_client):
    governor, _ = _governor(redis_client, '{"*": {"tokens_per_minute": 600}}')
    assert governor.admit(KEY, reserved_tokens=64_000, max_wait=0)
    with pytest.raises(AdmissionTimedOut):
        governor.admit(KEY, reserved_tokens=1, max_wait=60)  # the bucket is deep in debt


def test_an_unknown_key_starts_at_the_initial_rate_and_grows_by_one_an_admission(redis_client):
    governor, _ = _governor(redis_client)
    ticket = governor.admit(KEY, reserved_tokens=1, max_wait=60)
    assert ticket.rate == INITIAL_RATE + 1
    settled = governor.settle(ticket, outcome="ok", used_tokens=5)
    assert settled.rate == INITIAL_RATE + 1  # a success adds nothing: the admission grew it
    assert not settled.cut


def test_slow_start_grows_only_while_the_fleet_uses_the_rate(redis_client):
    governor, _ = _governor(redis_client)
    redis_client.hset(KEY.redis_key, mapping={"adm_at": _redis_now(redis_client), "adm_n": 0})
    rates = [governor.admit(KEY, reserved_tokens=1, max_wait=60).rate for _ in range(6)]
    # at most twice the admissions of the second so far, plus one, and never down
    assert all(rate <= max(INITIAL_RATE, 2 * n) + 1 for n, rate in enumerate(rates, start=1))
    assert rates == sorted(rates)
    assert rates[-1] > INITIAL_RATE + 1


def test_a_pause_never_lowers_a_learned_rate(redis_client):
    governor, _ = _governor(redis_client)
    stale = _redis_now(redis_client) - 60  # the fleet's last call, a minute ago
    for slow_start in ("1", "0"):
        redis_client.hset(
            KEY.redis_key,
            mapping={"rate": 80, "ss": slow_start, "adm_at": stale, "adm_n": 70, "win_at": stale},
        )
        ticket = governor.admit(KEY, reserved_tokens=1, max_wait=60)
        assert ticket.rate >= 80
        assert governor.settle(ticket, outcome="ok", used_tokens=1).rate >= 80


def _redis_now(redis_client) -> float:
    seconds, micros = redis_client.time()
    return seconds + micros / 1_000_000


def test_a_throttle_cuts_the_fleet_rate_once_for_calls_admitted_before_the_cut(redis_client):
    governor = Governor(redis_client, sleep=Sleeps(), cut_spacing=0)
    tickets = [governor.admit(KEY, reserved_tokens=1, max_wait=60) for _ in range(2)]
    first = governor.settle(tickets[0], outcome="throttled", used_tokens=None)
    again = governor.settle(tickets[1], outcome="throttled", used_tokens=None)
    assert first.cut
    assert first.rate == pytest.approx(tickets[-1].rate * SLOW_START_BETA)  # none delivered
    assert not again.cut
    assert again.rate == first.rate
    later = governor.admit(KEY, reserved_tokens=1, max_wait=60)
    assert governor.settle(later, outcome="throttled", used_tokens=None).cut


def test_two_cuts_are_at_least_the_cut_spacing_apart(redis_client):
    governor, _ = _governor(redis_client)  # one cut a second at most
    first = governor.admit(KEY, reserved_tokens=1, max_wait=60)
    assert governor.settle(first, outcome="throttled", used_tokens=None).cut
    later = governor.admit(KEY, reserved_tokens=1, max_wait=60)
    assert not governor.settle(later, outcome="throttled", used_tokens=None).cut


def test_after_the_first_throttle_the_rate_probes_up_additively(redis_client):
    governor, _ = _governor(redis_client)
    ticket = governor.admit(KEY, reserved_tokens=1, max_wait=60)
    cut = governor.settle(ticket, outcome="throttled", used_tokens=None).rate
    ticket = governor.admit(KEY, reserved_tokens=1, max_wait=60)
    grown = governor.settle(ticket, outcome="ok", used_tokens=1).rate
    assert grown == pytest.approx(cut + ALPHA / cut)


def test_an_error_bedrock_does_not_count_leaves_the_rate_alone(redis_client):
    governor, _ = _governor(redis_client)
    ticket = governor.admit(KEY, reserved_tokens=1, max_wait=60)
    assert governor.settle(ticket, outcome="other", used_tokens=None).rate == ticket.rate


def test_a_configured_quota_is_a_ceiling_the_learned_rate_never_passes(redis_client):
    governor, _ = _governor(redis_client, '{"*": {"requests_per_minute": 60}}')
    for _ in range(3):
        ticket = governor.admit(KEY, reserved_tokens=1, max_wait=60)
        assert governor.settle(ticket, outcome="ok", used_tokens=1).rate == pytest.approx(HEADROOM)


def test_a_start_within_the_horizon_is_reserved_and_slept_until(redis_client):
    governor, sleeps = _governor(redis_client, '{"*": {"requests_per_minute": 100}}')
    governor.admit(KEY, reserved_tokens=1, max_wait=60)  # the next is due 0.61 s later
    ticket = governor.admit(KEY, reserved_tokens=1, max_wait=60)  # 0.11 s, with the tolerance
    assert 0 < sleeps.waits[-1] <= HORIZON
    assert ticket.waited == pytest.approx(sleeps.waits[-1], abs=0.05)


def _admit_in_thread(governor, results, **kwargs):
    """Admit a call in a thread of its own (it blocks on the wake list, as a worker thread
    would); its ticket or error lands in ``results``."""

    def run():
        try:
            results.append(governor.admit(KEY, max_wait=120, **kwargs))
        except Exception as exc:  # the test asserts on it
            results.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _sleeping_governor(redis_client, monkeypatch):
    """A governor at 600 tokens a minute (a bucket of 588, refilled at 9.8 a second) that really
    waits, and whose fallback look is a minute away: only a wake lets a held-back call in soon."""
    monkeypatch.setattr(governor_module, "TOKEN_POLL", 60.0)
    quotas = QuotaTable.parse('{"*": {"tokens_per_minute": 600}}')
    return Governor(redis_client, quotas=quotas, sleep=time.sleep)


def test_a_call_the_tokens_bucket_holds_back_is_woken_by_a_settlement_that_gives_tokens_back(
    redis_client, monkeypatch
):
    governor = _sleeping_governor(redis_client, monkeypatch)
    first = governor.admit(KEY, reserved_tokens=588, max_wait=60)
    waiting, results = threading.Event(), []
    thread = _admit_in_thread(  # 500 more tokens: 51 s of refill
        governor, results, reserved_tokens=500, on_wait=lambda _: waiting.set()
    )
    assert waiting.wait(10)
    governor.settle(first, outcome="ok", used_tokens=10)  # gives 578 back
    thread.join(10)
    assert not thread.is_alive()
    assert isinstance(results[0], Ticket)
    assert results[0].reserved_tokens == 500


def test_one_settlement_wakes_one_waiter_and_an_admission_with_tokens_to_spare_wakes_the_next(
    redis_client, monkeypatch
):
    governor = _sleeping_governor(redis_client, monkeypatch)
    first = governor.admit(KEY, reserved_tokens=588, max_wait=60)
    waiting, results = threading.Semaphore(0), []
    threads = [
        _admit_in_thread(
            governor, results, reserved_tokens=250, on_wait=lambda _: waiting.release()
        )
        for _ in range(3)
    ]
    for _ in threads:
        assert waiting.acquire(timeout=10)
    governor.settle(first, outcome="ok", used_tokens=0)  # 588 back: room for two of the three
    deadline = time.monotonic() + 10
    while len(results) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(results) == 2  # the third still needs 162 tokens: 16 s of refill
    assert all(isinstance(ticket, Ticket) for ticket in results)
    assert 0 < float(redis_client.hget(KEY.redis_key, "lvl")) < 250
    governor.settle(results[0], outcome="ok", used_tokens=0)  # and now there is room for it
    for thread in threads:
        thread.join(10)
    assert len(results) == 3


def test_a_settlement_that_gives_nothing_back_wakes_no_one(redis_client):
    governor, _ = _governor(redis_client, '{"*": {"tokens_per_minute": 600}}')
    ticket = governor.admit(KEY, reserved_tokens=588, max_wait=60)
    governor.settle(ticket, outcome="ok", used_tokens=588)
    assert redis_client.llen(KEY.wake_key) == 0


def test_the_input_estimate_is_calibrated_down_gradually_to_what_bedrock_counted(redis_client):
    governor, _ = _governor(redis_client, '{"*": {"tokens_per_minute": 60000}}')
    ticket = governor.admit(KEY, reserved_tokens=1100, input_estimate=100, max_wait=60)
    assert ticket.reserved_tokens == 1100  # nothing counted yet: the estimate as it is
    governor.settle(ticket, outcome="ok", used_tokens=60, input_tokens=50)
    ticket = governor.admit(KEY, reserved_tokens=1100, input_estimate=100, max_wait=60)
    ratio = 1 - (1 - 0.5) * CALIBRATION_WEIGHT
    assert ticket.reserved_tokens == 1000 + round(100 * ratio)
    for _ in range(40):
        governor.settle(ticket, outcome="ok", used_tokens=60, input_tokens=50)
    ticket = governor.admit(KEY, reserved_tokens=1100, input_estimate=100, max_wait=60)
    assert ticket.reserved_tokens == 1051  # 50 approached from above, rounded up


def test_the_input_estimate_is_calibrated_up_at_once_when_bedrock_counted_more(redis_client):
    governor, _ = _governor(redis_client, '{"*": {"tokens_per_minute": 60000}}')
    ticket = governor.admit(KEY, reserved_tokens=1100, input_estimate=100, max_wait=60)
    governor.settle(ticket, outcome="ok", used_tokens=200, input_tokens=180)
    ticket = governor.admit(KEY, reserved_tokens=1100, input_estimate=100, max_wait=60)
    assert ticket.reserved_tokens == 1180
    governor.settle(ticket, outcome="ok", used_tokens=200, input_tokens=180)
    assert ticket.input_estimate == 100  # what the next settlement calibrates with


def test_a_call_bedrock_did_not_count_leaves_the_calibration_alone(redis_client):
    governor, _ = _governor(redis_client, '{"*": {"tokens_per_minute": 60000}}')
    for outcome in ("throttled", "other"):
        ticket = governor.admit(KEY, reserved_tokens=1100, input_estimate=100, max_wait=60)
        governor.settle(ticket, outcome=outcome, used_tokens=0, input_tokens=0)
    governor.settle(ticket, outcome="ok", used_tokens=None, input_tokens=None)
    ticket = governor.admit(KEY, reserved_tokens=1100, input_estimate=100, max_wait=60)
    assert ticket.reserved_tokens == 1100


def test_under_a_rate_of_a_call_a_second_or_less_no_call_starts_ahead_of_the_schedule(
    redis_client,
):
    def sleep(_seconds):
        raise AssertionError("the second call should not have been let through early")

    quotas = QuotaTable.parse('{"*": {"requests_per_minute": 60}}')  # 0.98 a second
    governor = Governor(redis_client, quotas=quotas, sleep=sleep)
    governor.admit(KEY, reserved_tokens=1, max_wait=60)
    with pytest.raises(AdmissionTimedOut):  # due 1.02 s later: past 0.8 s, no tolerance
        governor.admit(KEY, reserved_tokens=1, max_wait=0.8)


def test_a_call_short_of_tokens_is_not_admitted_ahead_to_sleep_through_settlements(redis_client):
    # 6,000 a minute: a bucket of 5,880, refilled at 98 a second. The second call is 40 tokens
    # short, 0.4 s of refill: within the horizon, but a settlement may give tokens back sooner,
    # so it is not admitted ahead and put to sleep; it waits to be woken, or for the refill.
    governor, sleeps = _governor(redis_client, '{"*": {"tokens_per_minute": 6000}}')
    governor.admit(KEY, reserved_tokens=5840, max_wait=60)
    ticket = governor.admit(KEY, reserved_tokens=80, max_wait=60)
    assert sleeps.waits == []
    assert ticket.started == ticket.admitted


def test_an_admission_clears_the_calls_waiting_mark_in_its_own_round_trip(redis_client):
    governor, _ = _governor(redis_client, '{"*": {"requests_per_minute": 600}}')
    mark_waiting(redis_client, "job-1", key=KEY, rate=9.8)
    mark_waiting(redis_client, "job-2", key=KEY, rate=9.8)
    governor.admit(KEY, reserved_tokens=1, max_wait=60, mark_key=waiting_key("job-1"))
    assert waiting_for(redis_client, "job-1") is None
    assert waiting_for(redis_client, "job-2") is not None  # another call's mark stays
