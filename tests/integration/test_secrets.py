"""No secret leaks: a mixed workload (sealed parent credentials, assume_role, ambient, nested
children) on workers at ``--loglevel debug --debug`` with a bearer token in their environment,
then a scan of every Redis key and value (both databases), every result, and the worker and
parent logs, for every secret involved. Encoded copies count: base64 runs are decoded and
scanned again, so a secret inside a message body or an envelope token is found too.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import secrets
from collections import Counter
from dataclasses import dataclass, field

import pytest
import redis

from emulator import ISSUED_SECRET_MARKER, tree_directive
from tests.integration.harness import REGION, figures
from tests.integration.test_identity import as_parent, seal_key, temporary_credentials

pytestmark = pytest.mark.integration

ROLE = "arn:aws:iam::111122223333:role/baton-eu"
_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/_-]{16,}={0,2}")


def decoded_views(blob: bytes, depth: int = 3) -> list[bytes]:
    """``blob`` and whatever its base64 runs decode to, recursively."""
    views = [blob]
    if depth == 0:
        return views
    for run in _BASE64_RUN.findall(blob):
        padded = run.rstrip(b"=") + b"=" * (-len(run.rstrip(b"=")) % 4)
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                views += decoded_views(decode(padded), depth - 1)
            except (binascii.Error, ValueError):
                continue
    return views


@dataclass
class Scan:
    """Secrets by name, and what was scanned where."""

    secrets: dict[str, str]
    hits: Counter = field(default_factory=Counter)
    scanned: Counter = field(default_factory=Counter)

    def blob(self, surface: str, data: bytes | str) -> None:
        raw = data.encode("utf-8", "replace") if isinstance(data, str) else data
        self.scanned[surface] += 1
        views = decoded_views(raw)
        for name, secret in self.secrets.items():
            if any(secret.encode() in view for view in views):
                self.hits[(surface, name)] += 1


def redis_values(client: redis.Redis, key: bytes) -> list[bytes]:
    kind = client.type(key).decode()
    if kind == "string":
        return [client.get(key) or b""]
    if kind == "list":
        return list(client.lrange(key, 0, -1))
    if kind == "hash":
        return [part for item in client.hgetall(key).items() for part in item]
    if kind == "set":
        return list(client.smembers(key))
    if kind == "zset":
        return [member for member, _ in client.zrange(key, 0, -1, withscores=True)]
    return [client.dump(key) or b""]


def scan_redis(scan: Scan, port: int) -> None:
    for db in (0, 1):
        client = redis.Redis(port=port, db=db)
        try:
            for key in client.scan_iter(count=500):
                scan.blob(f"redis db{db} keys", key)
                for value in redis_values(client, key):
                    scan.blob(f"redis db{db} values", value)
        finally:
            client.close()


class ParentLogs(logging.Handler):
    """Everything logged in this (the parent's) process at DEBUG while started, as text."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self._level = logging.WARNING

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def start(self) -> None:
        root = logging.getLogger()
        self._level = root.level
        root.addHandler(self)
        root.setLevel(logging.DEBUG)

    def stop(self) -> None:
        root = logging.getLogger()
        root.removeHandler(self)
        root.setLevel(self._level)


def spawn_mixed(monkeypatch, url: str, identity: dict[str, str]) -> tuple[list, int]:
    """Parents from the environment, as ``baton run`` builds them (with discovery).

    Returns the jobs to wait for, and how many sealed jobs were left queued for a region no
    worker serves, so the scan also sees messages still waiting on the broker.
    """
    from orchestrator import Orchestrator

    jobs, modes = [], (("sealed", {}), ("assume_role", {"BATON_ROLE_ARN": ROLE}), ("ambient", {}))
    for mode, extra in modes:
        monkeypatch.setenv("BATON_IDENTITY", mode)
        for name, value in {**identity, **extra}.items():
            monkeypatch.setenv(name, value)
        orch = Orchestrator.from_env(environ={"AWS_REGION": REGION, "AWS_BEDROCK_ENDPOINT": url})
        prompts = [f"{mode} {i}" for i in range(3)] + [tree_directive(depth=1, width=2)]
        jobs += [(orch, orch.spawn(prompt)) for prompt in prompts]
    monkeypatch.setenv("BATON_IDENTITY", "sealed")
    waiting = Orchestrator.from_env(
        environ={"AWS_REGION": "eu-central-1", "AWS_BEDROCK_ENDPOINT": url}
    )
    queued = [waiting.spawn(f"queued {i}") for i in range(2)]
    waiting.close()
    return jobs, len(queued)


def run_parents(monkeypatch, url: str, parent_env: dict[str, str], logs: ParentLogs):
    """Run the parents with this process logging at DEBUG; return results and queued count."""
    logs.start()
    try:
        jobs, queued = spawn_mixed(monkeypatch, url, parent_env)
        results = [orch.gather([job], timeout=60)[0] for orch, job in jobs]
        for orch in {orch for orch, _ in jobs}:
            orch.close()
    finally:
        logs.stop()
    return results, queued


@dataclass
class Workload:
    """What the mixed workload left behind, and the secrets to look for in it."""

    secrets: dict[str, str]
    results: list[dict]
    redis_port: int
    worker_lines: list[list[str]]
    parent_lines: list[str]
    converse_keys: set[str]
    queued: int


@pytest.fixture()
def workload(
    emulator_proc, start_worker, redis_urls, redis_server, envelope_key, monkeypatch, tmp_path
) -> Workload:
    emulator = emulator_proc(REGION)
    credentials = temporary_credentials(emulator.url)
    bearer = "ABSKQmVkcm9ja0FQSUtleS1" + secrets.token_urlsafe(48)
    key = seal_key()
    worker_env = {"BATON_SEAL_KEY": key, "AWS_BEARER_TOKEN_BEDROCK": bearer}
    flags = ("--loglevel", "debug", "--debug")
    workers = [
        start_worker(pool="threads", concurrency=4, env=worker_env, flags=flags),
        start_worker(pool="prefork", concurrency=2, env=worker_env, flags=flags),
    ]
    as_parent(monkeypatch, credentials)
    broker, backend = redis_urls
    parent_env = {"BATON_BROKER_URL": broker, "BATON_RESULT_BACKEND": backend}
    parent_env.update(BATON_ENVELOPE_KEY=envelope_key, BATON_SEAL_KEY=key)
    parent_env.update(BATON_CACHE_DIR=str(tmp_path))
    logs = ParentLogs()
    results, queued = run_parents(monkeypatch, emulator.url, parent_env, logs)
    return Workload(
        secrets={
            "parent secret access key": credentials["AWS_SECRET_ACCESS_KEY"],
            "parent session token": credentials["AWS_SESSION_TOKEN"],
            "any STS-issued secret or token": ISSUED_SECRET_MARKER,
            "bearer token": bearer,
            "seal key": key,
            "envelope key": envelope_key,
        },
        results=results,
        redis_port=redis_server.port,
        worker_lines=[list(w.proc.lines) for w in workers],
        parent_lines=logs.lines,
        converse_keys={c["access_key_id"][:4] for c in emulator.calls("Converse")},
        queued=queued,
    )


def test_no_secret_reaches_redis_or_any_result(workload):
    scan = Scan(workload.secrets)
    scan_redis(scan, workload.redis_port)
    for result in workload.results:
        scan.blob("results", json.dumps(result))

    figures(
        "secrets scan, redis and results",
        jobs=len(workload.results),
        scanned=dict(scan.scanned),
        hits=sum(scan.hits.values()),
    )
    assert workload.converse_keys == {"ASIA", "AKID"}  # sealed/assumed-role, and ambient calls
    assert scan.scanned["redis db0 values"] >= workload.queued
    assert scan.hits == Counter()


def test_no_secret_reaches_the_worker_or_parent_logs_at_debug(workload):
    scan = Scan(workload.secrets)
    for index, lines in enumerate(workload.worker_lines):
        for line in lines:
            scan.blob(f"worker {index} log lines", line)
    for line in workload.parent_lines:
        scan.blob("parent log lines", line)

    figures("secrets scan, logs at DEBUG", scanned=dict(scan.scanned), hits=dict(scan.hits))
    assert scan.hits == Counter()


def test_the_scan_finds_a_secret_hidden_in_an_envelope_inside_a_message_body():
    secret = "bAtOnStS" + secrets.token_urlsafe(24)
    token = "v1." + base64.urlsafe_b64encode(json.dumps({"leak": secret}).encode()).decode()
    message = {"headers": {"baton_envelope": token.rstrip("=") + ".c2ln"}}
    body = base64.b64encode(json.dumps(message).encode())
    scan = Scan({"secret": secret})

    scan.blob("redis", json.dumps({"body": body.decode()}))

    assert scan.hits == Counter({("redis", "secret"): 1})


def test_a_subprocess_gets_no_fleet_setting_spelt_in_lower_case(
    emulator_proc, start_worker, producer_settings, envelope_key
):
    """Issue 24, finding 5: settings are read without regard to case, so a worker takes
    ``baton_envelope_keys`` as its keys; ``claude_code_env()`` must not pass it on."""
    from envelope import HEADER_KEY
    from orchestrator import close_producer, producer_app
    from tests.integration.harness import QUEUE, crafted

    emulator = emulator_proc(REGION)
    lower = {"baton_envelope_keys": f"default:{envelope_key}", "baton_seal_key": "x" * 43}
    start_worker(env=lower, flags=["--include", "tests.integration.worker_tasks"])
    app = producer_app(producer_settings)
    try:
        token = crafted(emulator.url, keyring=producer_settings.keyring())
        job = app.send_task("baton.test.subprocess_env", headers={HEADER_KEY: token}, queue=QUEUE)
        seen = job.get(timeout=60)  # it ran: the worker took the lower-case keys as its own
    finally:
        close_producer(app)
    assert [name for name in seen["names"] if name.upper().startswith("BATON_")] == []
    assert seen["fleet_values"] == []
    assert "AWS_REGION" in seen["names"]
