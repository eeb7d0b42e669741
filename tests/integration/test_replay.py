"""A captured envelope runs no other job: the attacker reads the broker and holds no key.

A parent queues one job before any worker runs. The test, as the attacker, reads that message's
headers off the broker (a Redis list, or a RabbitMQ basic_get put back), then publishes three
forgeries with a plain Celery app: the headers on a new job id with new arguments, on the same
job id with new arguments, and on another task (a forged resume of a conversation). Then a
worker starts. The parent's own job runs; none of the forgeries does, each is dead-lettered with
reason ``envelope_binding_invalid``, and none stores a failure under the id it names.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery

from emulator import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY
from envelope import BINDING_KEY, HEADER_KEY, TASK_NAME
from tests.conftest import RedisServer, clean_env
from tests.integration.harness import wait_until
from tests.support.brokers import broker_url
from tests.support.processes import Proc, python_argv

pytestmark = pytest.mark.integration

REGION = "eu-west-1"
QUEUE = f"baton.{REGION}"
TIMEOUT = 60


def captured_headers(broker: str) -> dict[str, Any]:
    """The headers of the one message queued on ``QUEUE``, read as a broker reader would."""
    if broker.startswith("redis"):
        import redis

        client = redis.Redis.from_url(broker)
        try:
            (raw,) = client.lrange(QUEUE, 0, -1)
        finally:
            client.close()
        return dict(json.loads(raw)["headers"])
    from kombu import Connection

    with Connection(broker) as connection:
        channel = connection.channel()
        message = channel.basic_get(QUEUE, no_ack=False)
        headers = dict(message.headers)
        channel.basic_reject(message.delivery_tag, requeue=True)
        return headers


@pytest.fixture(params=["redis", "rabbitmq"])
def fleet(request, redis_server: RedisServer, start_emulator) -> Iterator[dict[str, Any]]:
    from orchestrator import Orchestrator, ProducerSettings, capture, close_producer, producer_app

    with broker_url(request.param, redis_server.url(8)) as broker:
        key, backend = secrets.token_urlsafe(32), redis_server.url(9)
        bedrock = start_emulator(REGION)
        settings = ProducerSettings(broker_url=broker, result_backend=backend, envelope_key=key)
        app = producer_app(settings)
        config = capture(environ={"AWS_REGION": REGION, "AWS_BEDROCK_ENDPOINT": bedrock.url})
        env = clean_env(
            BATON_BROKER_URL=broker,
            BATON_RESULT_BACKEND=backend,
            BATON_ENVELOPE_KEY=key,
            BATON_ALLOWED_ENDPOINTS="loopback",  # the emulator, on a free port
            AWS_ACCESS_KEY_ID=TEST_ACCESS_KEY_ID,
            AWS_SECRET_ACCESS_KEY=TEST_SECRET_ACCESS_KEY,
        )
        plain = Celery("attacker", broker=broker, backend=backend, set_as_current=False)
        worker: list[Proc] = []
        try:
            yield {
                "orch": Orchestrator(config=config, settings=settings, app=app),
                "plain": plain,
                "broker": broker,
                "bedrock": bedrock,
                "start": lambda: (
                    worker.append(
                        Proc(
                            python_argv(
                                "-m", "baton", "worker", "--region", REGION, "--pool", "solo"
                            ),
                            env=env,
                            name="worker",
                        )
                    )
                    or worker[0].wait_for(" ready.")
                ),
            }
        finally:
            plain.close()
            close_producer(app)
            for proc in worker:
                proc.kill()


def test_a_captured_header_runs_no_other_job_and_each_forgery_is_dead_lettered(fleet):
    from workers import DeadLetters

    orch, plain = fleet["orch"], fleet["plain"]
    original = orch.spawn("the parent's own prompt")
    stolen = captured_headers(fleet["broker"])
    assert stolen[HEADER_KEY] and stolen[BINDING_KEY]
    copied = {HEADER_KEY: stolen[HEADER_KEY], BINDING_KEY: stolen[BINDING_KEY]}

    def forge(task: str, task_id: str, kwargs: dict[str, Any]) -> Any:
        return plain.send_task(task, kwargs=kwargs, task_id=task_id, headers=copied, queue=QUEUE)

    state = {"job_id": original.id, "turns": 1, "messages": [], "model_id": "global.anything"}
    forgeries = {
        "new_id_new_arguments": forge(TASK_NAME, uuid.uuid4().hex, {"prompt": "exfiltrate"}),
        "same_id_new_arguments": forge(TASK_NAME, original.id, {"prompt": "exfiltrate"}),
        "another_task": forge("baton.subagent.resume", uuid.uuid4().hex, {"state": state}),
    }
    fleet["start"]()

    # The forgeries' bindings fail, so nothing is stored under the ids they name: they are
    # judged by the dead letters and by Bedrock's journal.
    assert "the parent's own prompt" in original.get(timeout=TIMEOUT)["text"]
    wait_until(lambda: len(DeadLetters(orch.app).entries()) == len(forgeries), timeout=TIMEOUT)
    for name, job in forgeries.items():
        if name != "same_id_new_arguments":
            assert orch.app.AsyncResult(job.id).state == "PENDING", name
    assert original.state == "SUCCESS"
    assert len(fleet["bedrock"].calls("Converse")) == 1  # the parent's one turn, nothing else
    records = DeadLetters(orch.app).entries()
    reasons = {(record["job_id"], record["reason"]) for record in records}
    for name, job in forgeries.items():
        assert (job.id, "envelope_binding_invalid") in reasons, (name, records)
