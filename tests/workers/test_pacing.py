"""Every Bedrock call of a job waits its turn: real boto3 clients against the in-process emulator
(its quota counts as Bedrock's does), the governor on fakeredis. What Bedrock saw is read from
the emulator's journal."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator
from importlib.util import find_spec
from typing import Any

import pytest
from botocore.hooks import HierarchicalEmitter

import workers
from emulator import Emulator
from envelope import ClientSettings
from fleet import AdmissionTimedOut, Governor, QuotaKey
from fleet.governor import HEADROOM, INITIAL_RATE
from tests.factories import make_envelope
from workers import WorkerSettings, metrics, pacing
from workers.context import Job, bind, unbind
from workers.delivery.guard import TASK_SOFT_TIME_LIMIT
from workers.runtime import WorkerRuntime

PROFILE = "eu.anthropic.claude-sonnet-4-20250514-v1:0"
KEY = QuotaKey("eu-west-1", PROFILE)
MESSAGES = [{"role": "user", "content": [{"text": "hello"}]}]
ONE_ATTEMPT = ClientSettings(max_attempts=1)
#: 500 words, which the emulator counts as 500 input tokens. A full bucket admits any call, so
#: the first call of a "Too many tokens" test must leave the bucket short for longer than any
#: pause before the second: at 3,000 a minute this leaves it 10 s from full. "hello" left it
#: 4 tokens short, full again in 80 ms, and a full garbage collection (0.15 s here) between the
#: two calls let the second through.
LONG_PROMPT = "word " * 500


@pytest.fixture()
def quota_emulator() -> Iterator[Emulator]:
    """Bedrock at 600 requests a minute per key: 10 a second, a burst of 10."""
    emulator = Emulator(allowed_regions={"eu-west-1"}, requests_per_minute=600).start()
    yield emulator
    emulator.stop()


def _job(fake_redis, emulator, *, quotas=None, pacing_on=True, **overrides) -> Any:
    settings: dict[str, Any] = {
        "envelope_key": "unit-test-envelope-key-0123456789",
        "bedrock_pacing": pacing_on,
    }
    if quotas is not None:
        settings["bedrock_quotas"] = json.dumps(quotas)
    runtime = WorkerRuntime(WorkerSettings(**settings))
    client = fake_redis.client()
    runtime.redis = lambda: client
    envelope = make_envelope(endpoint_url=emulator.url, **overrides)
    return Job(envelope=envelope, task_id="job-1", runtime=runtime)


def _throttles(emulator) -> int:
    return sum(call.error_code == "ThrottlingException" for call in emulator.calls())


def _converse(client, count: int) -> None:
    for _ in range(count):
        client.converse(modelId=PROFILE, messages=MESSAGES)


def test_a_configured_quota_paces_the_jobs_client_so_bedrock_throttles_nothing(
    wrong_worker_env, fake_redis, quota_emulator
):
    job = _job(fake_redis, quota_emulator, quotas={"*": {"requests_per_minute": 600}})
    token = bind(job)
    try:
        _converse(workers.bedrock_client(), 14)
    finally:
        unbind(token)
    assert [call.status for call in quota_emulator.calls()] == [200] * 14
    assert Governor(fake_redis.client()).rate(KEY) == pytest.approx(10 * HEADROOM)


def test_without_pacing_the_same_calls_are_throttled(wrong_worker_env, fake_redis, quota_emulator):
    job = _job(fake_redis, quota_emulator, pacing_on=False, client=ONE_ATTEMPT)
    token = bind(job)
    try:
        with pytest.raises(Exception, match="ThrottlingException"):
            # as many calls as it takes: the first throttle stops them (a busy machine sends 14
            # slower than the bucket refills; 100 cannot fit in 10 a second and a burst of 10)
            _converse(workers.bedrock_client(), 100)
    finally:
        unbind(token)
    assert _throttles(quota_emulator) == 1


def test_a_client_from_bedrock_session_is_paced_with_the_fleet(
    wrong_worker_env, fake_redis, quota_emulator
):
    job = _job(fake_redis, quota_emulator, quotas={"*": {"requests_per_minute": 600}})
    token = bind(job)
    try:
        session = workers.bedrock_session()
        client = session.client("bedrock-runtime", endpoint_url=quota_emulator.url)
        _converse(client, 12)
        _converse(workers.bedrock_client(), 2)  # one schedule for both clients
    finally:
        unbind(token)
    assert _throttles(quota_emulator) == 0
    assert len(quota_emulator.calls()) == 14


def test_a_throttle_from_bedrock_cuts_the_learned_rate_and_is_counted(wrong_worker_env, fake_redis):
    emulator = Emulator(allowed_regions={"eu-west-1"}, requests_per_minute=60).start()
    counted = metrics.THROTTLED.labels(region="eu-west-1", model=PROFILE)
    before = counted._value.get()
    job = _job(fake_redis, emulator, client=ONE_ATTEMPT)
    token = bind(job)
    try:
        client = workers.bedrock_client()
        client.converse(modelId=PROFILE, messages=MESSAGES)  # the bucket's one call
        with pytest.raises(Exception, match="ThrottlingException"):
            client.converse(modelId=PROFILE, messages=MESSAGES)  # 0.5 s later: not refilled
    finally:
        unbind(token)
        emulator.stop()
    assert Governor(fake_redis.client()).rate(KEY) < INITIAL_RATE + 1
    assert counted._value.get() == before + 1


def test_too_many_tokens_from_bedrock_teaches_the_fleet_a_tokens_quota_not_a_rate(
    wrong_worker_env, fake_redis
):
    # 3,000 tokens a minute: a full bucket admits a call of maxTokens 5,000 once; the second,
    # though the first gave back what it did not use, is "Too many tokens"
    emulator = Emulator(allowed_regions={"eu-west-1"}, tokens_per_minute=3000).start()
    job = _job(fake_redis, emulator, client=ONE_ATTEMPT)
    messages = [{"role": "user", "content": [{"text": LONG_PROMPT}]}]
    token = bind(job)
    try:
        client = workers.bedrock_client()
        for _ in range(2):
            with contextlib.suppress(Exception):
                client.converse(
                    modelId=PROFILE, messages=messages, inferenceConfig={"maxTokens": 5000}
                )
    finally:
        unbind(token)
        emulator.stop()
    assert [call.status for call in emulator.calls()] == [200, 429]
    assert fake_redis.client().hget(KEY.redis_key, "tps_l") is not None
    assert Governor(fake_redis.client()).rate(KEY) == INITIAL_RATE + 1  # one success, no cut


def test_a_call_that_would_wait_past_the_job_limits_is_never_sent(
    wrong_worker_env, fake_redis, quota_emulator
):
    now = int(time.time())
    job = _job(
        fake_redis,
        quota_emulator,
        quotas={"*": {"requests_per_minute": 1}},
        iat=now,
        exp=now + 45,  # 15 s to wait at most, after the call's own margin
    )
    token = bind(job)
    try:
        client = workers.bedrock_client()
        client.converse(modelId=PROFILE, messages=MESSAGES)
        with pytest.raises(AdmissionTimedOut, match=f"quota {KEY}"):
            client.converse(modelId=PROFILE, messages=MESSAGES)  # next start is 63 s away
    finally:
        unbind(token)
    assert len(quota_emulator.calls()) == 1


def test_the_wait_is_bounded_by_the_envelope_expiry_and_the_soft_time_limit(fake_redis):
    now = time.time()
    job = Job(
        envelope=make_envelope(iat=int(now), exp=int(now) + 600),
        task_id="job-1",
        runtime=WorkerRuntime(WorkerSettings(envelope_key="unit-test-envelope-key-0123456789")),
        started=1000.0,
    )
    assert pacing.max_wait(job, now=int(now), clock=1000.0) == 600 - pacing.CALL_MARGIN
    late = 1000.0 + TASK_SOFT_TIME_LIMIT - 100
    assert pacing.max_wait(job, now=int(now), clock=late) == 100 - pacing.CALL_MARGIN
    assert pacing.max_wait(job, now=int(now) + 700, clock=1000.0) == 0


def _calibration(fake_redis) -> float:
    """What the key's input estimate is scaled by (1 until a settlement counted the input)."""
    return float(fake_redis.client().hget(KEY.redis_key, "in_ratio") or 1)


def test_the_input_bedrock_counted_calibrates_the_keys_input_estimate(wrong_worker_env, fake_redis):
    # The emulator counts a word a token; the estimate, 3 characters a token, is higher
    emulator = Emulator(allowed_regions={"eu-west-1"}, tokens_per_minute=60_000).start()
    job = _job(fake_redis, emulator, quotas={"*": {"tokens_per_minute": 60_000}})
    token = bind(job)
    try:
        client = workers.bedrock_client()
        text = "several words of a prompt, each longer than three characters " * 20
        for _ in range(2):
            client.converse(
                modelId=PROFILE,
                messages=[{"role": "user", "content": [{"text": text}]}],
                inferenceConfig={"maxTokens": 100},
            )
    finally:
        unbind(token)
        emulator.stop()
    assert [call.status for call in emulator.calls()] == [200] * 2
    assert 0 < _calibration(fake_redis) < 1


def test_hooks_registered_twice_on_one_emitter_run_once():
    emitter = HierarchicalEmitter()
    pacing.attach(emitter)
    pacing.attach(emitter)
    handlers = list(emitter._handlers.prefix_search("before-sign.bedrock-runtime.Converse"))
    assert handlers.count(pacing.before_sign) == 1


def test_outside_a_job_no_call_is_paced():
    assert pacing.admit(KEY, b"{}") is None


@pytest.mark.skipif(find_spec("anthropic") is None, reason="the anthropic extra is not installed")
def test_the_anthropic_client_is_paced_with_the_fleet_and_settles_from_its_token_headers(
    wrong_worker_env, fake_redis, quota_emulator
):
    job = _job(fake_redis, quota_emulator, quotas={"*": {"requests_per_minute": 600}})
    token = bind(job)
    try:
        client = workers.anthropic_client(max_retries=0)
        for _ in range(14):
            client.messages.create(
                model=PROFILE, max_tokens=16, messages=[{"role": "user", "content": "hi"}]
            )
    finally:
        unbind(token)
    assert [call.status for call in quota_emulator.calls()] == [200] * 14
    assert {call.operation for call in quota_emulator.calls()} == {"InvokeModel"}
    assert Governor(fake_redis.client()).rate(KEY) == pytest.approx(10 * HEADROOM)
    assert _calibration(fake_redis) < 1  # the input token header reached the governor


@pytest.mark.skipif(find_spec("anthropic") is None, reason="the anthropic extra is not installed")
def test_the_anthropic_client_reads_too_many_tokens_from_the_error_body(
    wrong_worker_env, fake_redis
):
    emulator = Emulator(allowed_regions={"eu-west-1"}, tokens_per_minute=3000).start()
    job = _job(fake_redis, emulator)
    token = bind(job)
    try:
        client = workers.anthropic_client(max_retries=0)
        for _ in range(2):
            with contextlib.suppress(Exception):
                client.messages.create(
                    model=PROFILE,
                    max_tokens=5000,
                    messages=[{"role": "user", "content": LONG_PROMPT}],
                )
    finally:
        unbind(token)
        emulator.stop()
    assert [call.status for call in emulator.calls()] == [200, 429]
    assert fake_redis.client().hget(KEY.redis_key, "tps_l") is not None


def test_an_unpaced_anthropic_client_would_have_been_throttled(
    wrong_worker_env, fake_redis, quota_emulator
):
    if find_spec("anthropic") is None:
        pytest.skip("the anthropic extra is not installed")
    job = _job(fake_redis, quota_emulator, pacing_on=False)
    token = bind(job)
    try:
        client = workers.anthropic_client(max_retries=0)
        with pytest.raises(Exception, match=r"429|Too many requests"):
            for _ in range(14):
                client.messages.create(
                    model=PROFILE, max_tokens=16, messages=[{"role": "user", "content": "hi"}]
                )
    finally:
        unbind(token)


def test_while_the_fleets_redis_does_not_answer_calls_go_unpaced_rather_than_fail(
    wrong_worker_env, fake_redis, quota_emulator, caplog
):
    import redis

    job = _job(fake_redis, quota_emulator, quotas={"*": {"requests_per_minute": 600}})
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    job.runtime.redis = lambda: dead
    logger = logging.getLogger("baton.worker")  # other tests may have stopped propagation
    logger.addHandler(caplog.handler)
    token = bind(job)
    try:
        with caplog.at_level(logging.WARNING, logger="baton.worker"):
            workers.bedrock_client().converse(modelId=PROFILE, messages=MESSAGES)
    finally:
        unbind(token)
        dead.close()
        logger.removeHandler(caplog.handler)
    assert [call.status for call in quota_emulator.calls()] == [200]
    assert "is not paced" in caplog.text


def test_every_call_of_a_process_waits_in_one_local_queue_whichever_client_it_holds(fake_redis):
    runtime = WorkerRuntime(WorkerSettings(envelope_key="unit-test-envelope-key-0123456789"))
    clients = [fake_redis.client()]
    runtime.redis = lambda: clients[-1]
    first = runtime.governor()
    clients.append(fake_redis.client())  # another thread's backend holds another client
    second = runtime.governor()
    assert first is not None and second is not None and second.client is clients[-1]
    assert first._turns is second._turns
