"""The quota bench's ideal (ops/bench/ideal.py): the emulator's own counting, replayed."""

from __future__ import annotations

import sys

import pytest

from emulator.quotas import QuotaSettings
from tests.support.processes import ROOT

sys.path.insert(0, str(ROOT / "ops" / "bench"))
from ideal import ideal_seconds, subagent_call

PROFILE = "eu.anthropic.claude-sonnet-4-20250514-v1:0"


def test_the_requests_ideal_is_the_jobs_over_the_rate():
    quota = QuotaSettings(requests_per_minute=600)  # 10 a second, a burst of 10
    seconds = ideal_seconds(jobs=400, quota=quota, reserved=1, used=1, latency=1.0, slots=100)
    assert seconds == pytest.approx(40.0, abs=0.01)


def test_a_tokens_quota_runs_as_many_calls_at_once_as_reservations_fit_in_its_bucket():
    quota = QuotaSettings(tokens_per_minute=6000)  # a bucket of 6 reservations of 1,000
    seconds = ideal_seconds(jobs=60, quota=quota, reserved=1000, used=0, latency=1.0, slots=100)
    assert seconds == pytest.approx(10.0, abs=0.01)  # 6 at a time, 1 s each


def test_what_calls_use_drains_the_tokens_bucket_and_slows_the_ideal_below_what_fits_at_first():
    quota = QuotaSettings(tokens_per_minute=11_000)
    reserved, used = subagent_call(prompt="quota configured job 0", model_id=PROFILE, region="r")
    unused = ideal_seconds(jobs=400, quota=quota, reserved=reserved, used=0, latency=1.0, slots=100)
    seconds = ideal_seconds(
        jobs=400, quota=quota, reserved=reserved, used=used, latency=1.0, slots=100
    )
    assert unused == pytest.approx(40.0, abs=0.05)  # 10 of 1,041 fit in 11,000
    assert seconds == pytest.approx(43.0, abs=0.1)  # 10 a second use 220 of a refill of 183


def test_a_bench_subagent_call_is_counted_as_the_emulator_counts_it():
    reserved, used = subagent_call(prompt="quota configured job 0", model_id=PROFILE, region="r")
    system = 12  # "You are a helpful subagent. Answer the task you are given concisely."
    assert reserved == 1024 + system + 5  # "user" and the prompt's 4 words
    assert used == system + 4 + len(f"[r] {PROFILE}: quota configured job 0".split())
