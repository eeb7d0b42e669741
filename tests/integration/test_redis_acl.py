"""Broker and result backend as separate Redis ACL users (issue 24, "Also decide"): a fleet runs
through the ACL that ``docker-compose.yml`` and ``ops/k8s`` use (``ops/redis/users.acl``), and
a broker writer can no longer touch the backend's budgets, locks and results.

A private redis-server loads that very file, so a key or channel the fleet needs and the file
forgets shows up here as a refused command (in the ACL log, or a failing job).
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery

from tests.conftest import clean_env
from tests.integration.harness import wait_until
from tests.support.processes import Proc, free_port

pytestmark = pytest.mark.integration

ACL_TEMPLATE = Path(__file__).parents[2] / "ops" / "redis" / "users.acl"
USERS = ("BROKER", "BACKEND", "KEDA")
REGION = "eu-west-1"
TIMEOUT = 90


@dataclass
class AclRedis:
    port: int
    passwords: dict[str, str]

    def url(self, user: str, db: int) -> str:
        password = self.passwords[user.upper()]
        return f"redis://baton-{user}:{password}@127.0.0.1:{self.port}/{db}"

    def client(self, user: str, db: int = 0) -> redis.Redis:
        return redis.Redis.from_url(self.url(user, db))

    def admin(self) -> redis.Redis:
        return redis.Redis(port=self.port, username="test-admin", password=self.passwords["ADMIN"])


@pytest.fixture()
def acl_redis(tmp_path: Path) -> Iterator[AclRedis]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    passwords = {user: secrets.token_urlsafe(24) for user in (*USERS, "ADMIN")}
    text = ACL_TEMPLATE.read_text()
    for user in USERS:
        text = text.replace(f"@BATON_REDIS_{user}_PASSWORD@", passwords[user])
    text += f"user test-admin on >{passwords['ADMIN']} ~* &* +@all\n"  # reads the ACL log
    acl = tmp_path / "users.acl"
    acl.write_text(text)
    port = free_port()
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--aclfile", str(acl)]
    proc = Proc([*argv, "--save", "", "--appendonly", "no"], env=clean_env(), name="acl-redis")
    try:
        proc.wait_for("Ready to accept connections")
        yield AclRedis(port=port, passwords=passwords)
    finally:
        proc.stop()


def refusals(server: AclRedis) -> list[Any]:
    return [
        (entry["username"], entry["reason"], entry["object"])
        for entry in server.admin().acl_log()
        if entry["username"] != "test-admin"
    ]


def test_a_fleet_runs_through_separate_broker_and_backend_users(
    acl_redis, start_emulator, start_worker, envelope_key
):
    from orchestrator import Orchestrator, ProducerSettings, capture, close_producer, producer_app
    from workers.dead_letters import DeadLetters

    broker, backend = acl_redis.url("broker", 0), acl_redis.url("backend", 1)
    emulator = start_emulator(REGION)
    env = {"BATON_BROKER_URL": broker, "BATON_RESULT_BACKEND": backend}
    start_worker(REGION, concurrency=2, env=env, flags=["--remote-control"])
    settings = ProducerSettings(
        broker_url=broker, result_backend=backend, envelope_key=envelope_key
    )
    app = producer_app(settings)
    intruder = Celery("intruder", broker=broker, set_as_current=False)
    try:
        config = capture(environ={"AWS_REGION": REGION, "AWS_BEDROCK_ENDPOINT": emulator.url})
        orch = Orchestrator(config=config, settings=settings, app=app)
        tree = orch.gather([orch.spawn("<<tree depth=2 width=2>>")], timeout=TIMEOUT)[0]
        wait_until(lambda: bool(intruder.control.ping(timeout=1)), timeout=20)
        intruder.send_task("baton.subagent", kwargs={"prompt": "x"}, queue=f"baton.{REGION}")
        wait_until(lambda: len(DeadLetters(app).entries()) == 1, timeout=30)
    finally:
        intruder.close()
        close_producer(app)

    assert (tree["stop_reason"], tree["tree_jobs"]) == ("end_turn", 7)
    assert refusals(acl_redis) == []  # the file names every key and channel the fleet used
    broker_writer = acl_redis.client("broker", 1)
    for command in (
        ("SET", f"baton:jobs:{orch.root_id}", "0"),  # reset a tree's budget
        ("DEL", f"baton:lock:{tree['job_id']}"),  # free a job lock
        ("GET", f"celery-task-meta-{tree['job_id']}"),  # read or forge a stored result
    ):
        with pytest.raises(redis.exceptions.NoPermissionError):
            broker_writer.execute_command(*command)
    with pytest.raises(redis.exceptions.NoPermissionError):
        acl_redis.client("backend", 0).lpush(f"baton.{REGION}", "{}")
    keda = acl_redis.client("keda", 0)
    assert keda.llen(f"baton.{REGION}") == 0
    with pytest.raises(redis.exceptions.NoPermissionError):
        keda.lpush(f"baton.{REGION}", "{}")
