"""Settlements on fakeredis: one at a time each goes at once; those that end while one is in
flight go together with its next round trip; a throttle never waits."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from fleet import Governor, QuotaKey, QuotaTable, Settlements
from fleet.governor_lua import SETTLE, SETTLE_MANY
from fleet.ledger_lua import run_script

KEY = QuotaKey("eu-west-1", "eu.anthropic.claude-sonnet-4-20250514-v1:0")
OTHER = QuotaKey("ap-southeast-2", "apac.anthropic.claude-sonnet-4-20250514-v1:0")
TOKENS = '{"*": {"tokens_per_minute": 60000}}'


class HeldClient:
    """A Redis client whose first script call waits until released: a settlement in flight."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.entered = threading.Event()
        self.release = threading.Event()

    def evalsha(self, *args: Any) -> Any:
        if not self.entered.is_set():
            self.entered.set()
            assert self.release.wait(10), "the test never released the settlement in flight"
        return self._client.evalsha(*args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@pytest.fixture()
def redis_client(fake_redis):
    return fake_redis.client()


def _governor(client: Any, settlements: Settlements, quotas: str = TOKENS) -> Governor:
    return Governor(client, quotas=QuotaTable.parse(quotas), settlements=settlements)


def test_settlements_one_at_a_time_each_go_at_once_with_their_answer(redis_client):
    settlements = Settlements()
    governor = _governor(redis_client, settlements)
    for _ in range(3):
        ticket = governor.admit(KEY, reserved_tokens=1000, max_wait=60)
        settled = governor.settle(ticket, outcome="ok", used_tokens=100)
        assert settled is not None and settled.rate > 0
    assert (settlements.sent, settlements.carried) == (3, 3)
    assert int(redis_client.hget(KEY.redis_key, "win_n")) == 3


def test_settlements_ending_during_a_flight_go_together_with_its_next_round_trip(redis_client):
    settlements = Settlements()
    held = HeldClient(redis_client)
    first, other = _governor(held, settlements), _governor(redis_client, settlements)
    tickets = [other.admit(key, reserved_tokens=1000, max_wait=60) for key in (KEY, KEY, OTHER)]
    level = float(redis_client.hget(KEY.redis_key, "lvl"))
    answers: list[Any] = []
    flight = threading.Thread(
        target=lambda: answers.append(first.settle(tickets[0], outcome="ok", used_tokens=100))
    )
    flight.start()
    assert held.entered.wait(10)
    queued = [other.settle(ticket, outcome="ok", used_tokens=100) for ticket in tickets[1:]]
    assert queued == [None, None]  # nothing sent yet: they wait for the flight
    assert (settlements.sent, redis_client.hget(KEY.redis_key, "win_n")) == (1, None)
    held.release.set()
    flight.join(10)
    assert answers and answers[0] is not None
    assert (settlements.sent, settlements.carried) == (2, 3)
    assert int(redis_client.hget(KEY.redis_key, "win_n")) == 2
    assert int(redis_client.hget(OTHER.redis_key, "win_n")) == 1
    assert float(redis_client.hget(KEY.redis_key, "lvl")) > level  # both gave 900 tokens back


def test_a_throttle_does_not_wait_for_the_flight_and_its_cut_is_in_redis_when_it_returns(
    redis_client,
):
    settlements = Settlements()
    held = HeldClient(redis_client)
    first, other = _governor(held, settlements, "{}"), _governor(redis_client, settlements, "{}")
    tickets = [other.admit(KEY, reserved_tokens=1000, max_wait=60) for _ in range(3)]
    flight = threading.Thread(
        target=first.settle, args=(tickets[0],), kwargs={"outcome": "ok", "used_tokens": 1}
    )
    flight.start()
    assert held.entered.wait(10)
    assert other.settle(tickets[1], outcome="ok", used_tokens=1) is None
    settled = other.settle(tickets[2], outcome="throttled", used_tokens=None)
    assert settled is not None and settled.cut
    assert redis_client.hget(KEY.redis_key, "ss") == b"0"  # slow start ended by the cut
    assert (settlements.sent, settlements.carried) == (2, 3)  # it took the queued one along
    held.release.set()
    flight.join(10)
    assert (settlements.sent, settlements.carried) == (2, 3)  # nothing was left for the flight


def test_many_settled_in_one_script_end_as_they_would_one_by_one(fake_redis, frozen_redis_clock):
    """SETTLE_MANY runs SETTLE's own body for each call, in order."""
    one_by_one, together = fake_redis.client(db=2), fake_redis.client(db=3)
    entries = []
    for index, outcome in enumerate(["ok", "ok", "throttled", "other", "ok", "throttled_tokens"]):
        key = (KEY, OTHER)[index % 2]
        args = [outcome, frozen_redis_clock - 1, 500, 0, 0, 4, 0.05, 10000, 0.7, 0.5, 86400, 60, 1]
        args += [
            200,
            180,
            0.2,
            8,
            0.5,
            0.97,
            4,
            0.9,
            0.01,
            0.95,
            0.02,
            0,
            frozen_redis_clock - 1,
            4,
            0.1,
        ]
        entries.append(([key.redis_key, key.wake_key], args))
    singles = [run_script(one_by_one, SETTLE, keys, args) for keys, args in entries]
    width = len(entries[0][1])
    keys = [k for entry_keys, _ in entries for k in entry_keys]
    many = run_script(
        together, SETTLE_MANY, keys, [width, *(a for _, args in entries for a in args)]
    )
    assert many == singles
    for key in (KEY, OTHER):
        assert together.hgetall(key.redis_key) == one_by_one.hgetall(key.redis_key)
