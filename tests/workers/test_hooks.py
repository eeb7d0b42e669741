"""The worker's hooks: nothing installed at import, everything at worker start, each app's keys.

Importing ``workers`` must leave the process as it was (OpenTelemetry's instrumentors are the
model: nothing until ``instrument()``, undone by ``uninstrument()``). A worker installs the hooks
when it starts; a Baton app installs the publish hook at its first publish; and the hooks keep no
runtime of their own, so an app made with ``create_app`` binds and signs with its own keys even
when the module-level app holds others.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import after_task_publish, before_task_publish

from envelope import BINDING_KEY, HEADER_KEY, Keyring, bind_message, decode, queue_for
from tests.factories import make_envelope
from workers import WorkerSettings, configure, create_app, hooks
from workers.context import Job, bind, unbind

BROKER, BACKEND = "memory://localhost/", "cache+memory://"
KEY_A, KEY_B = "key-of-the-module-level-app-0123456789", "key-of-the-other-app-0123456789ab"


def settings(key: str) -> WorkerSettings:
    return WorkerSettings(
        broker_url=BROKER,
        result_backend=BACKEND,
        envelope_key=key,
        allowed_regions=("eu-west-1",),
    )


def baton_receivers() -> list[Any]:
    return [r for r in before_task_publish.receivers if "baton" in str(r[0])]


@pytest.fixture()
def no_hooks():
    """Start and end with the hooks removed, whatever an earlier test in this process did."""
    hooks.disconnect()
    yield
    hooks.disconnect()


@pytest.fixture()
def module_app():
    """``workers.app``, given back with the settings it had."""
    from workers import app

    before = app.baton_runtime.settings
    yield app
    configure(app, before)


@pytest.fixture()
def published():
    """Headers and body of every message published while the test runs."""
    seen: list[tuple[dict[str, Any], Any]] = []

    def record(body: Any = None, headers: dict[str, Any] | None = None, **_: Any) -> None:
        seen.append((copy.deepcopy(headers or {}), copy.deepcopy(body)))

    after_task_publish.connect(record, weak=False, dispatch_uid="test.published")
    yield seen
    after_task_publish.disconnect(record, dispatch_uid="test.published")


def test_importing_workers_changes_nothing_in_the_process():
    code = """
import logging, sys
from concurrent.futures import ThreadPoolExecutor
from celery.signals import after_setup_logger, before_task_publish
from fleet.logsafety import SECRET_BEARING_LOGGERS
submit = ThreadPoolExecutor.submit
levels = {name: logging.getLogger(name).level for name in SECRET_BEARING_LOGGERS}
publish, setup = len(before_task_publish.receivers), len(after_setup_logger.receivers)
import workers
workers.app.conf.broker_url  # the app exists and reads its settings
changed = []
if ThreadPoolExecutor.submit is not submit: changed.append("ThreadPoolExecutor.submit")
if len(before_task_publish.receivers) != publish: changed.append("before_task_publish")
if len(after_setup_logger.receivers) != setup: changed.append("after_setup_logger")
if {n: logging.getLogger(n).level for n in SECRET_BEARING_LOGGERS} != levels:
    changed.append("logger levels")
print(changed)
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert out.strip() == "[]"


@pytest.mark.usefixtures("no_hooks")
def test_a_worker_start_installs_every_hook_and_disconnect_removes_them():
    original = ThreadPoolExecutor.submit
    assert not baton_receivers()
    app = create_app(settings(KEY_B))
    with start_worker(
        app,
        pool="solo",
        queues=[queue_for("eu-west-1")],
        perform_ping_check=False,
        loglevel="ERROR",
    ):
        assert ThreadPoolExecutor.submit is not original
        assert len(baton_receivers()) == 1
    hooks.disconnect()
    assert ThreadPoolExecutor.submit is original
    assert not baton_receivers()


@pytest.mark.usefixtures("no_hooks")
def test_a_first_publish_installs_the_publish_hook_alone():
    original = ThreadPoolExecutor.submit
    app = create_app(settings(KEY_B))
    token = app.baton_runtime.sign(make_envelope(kid=app.baton_runtime.keyring.active))
    app.send_task("user.task", headers={HEADER_KEY: token})
    assert len(baton_receivers()) == 1
    assert ThreadPoolExecutor.submit is original


@pytest.mark.usefixtures("no_hooks")
def test_an_app_binds_a_message_it_publishes_with_its_own_keys(published, module_app):
    other = create_app(settings(KEY_B))
    configure(module_app, settings(KEY_A))  # configured last, as another test might have
    ring: Keyring = other.baton_runtime.keyring
    token = other.baton_runtime.sign(make_envelope(kid=ring.active))
    other.send_task("user.task", args=(1,), headers={HEADER_KEY: token})

    headers, body = published[-1]
    expected = {k: v for k, v in headers.items() if k != BINDING_KEY}
    bind_message(ring, expected, body, token)
    assert headers[BINDING_KEY] == expected[BINDING_KEY]
    wrong = {k: v for k, v in headers.items() if k != BINDING_KEY}
    bind_message(module_app.baton_runtime.keyring, wrong, body, token)
    assert headers[BINDING_KEY] != wrong[BINDING_KEY]


@pytest.mark.usefixtures("no_hooks")
def test_a_job_signs_its_child_with_the_runtime_that_admitted_it(published, module_app):
    other = create_app(settings(KEY_B))
    configure(module_app, settings(KEY_A))  # configured last, as another test might have
    runtime = other.baton_runtime
    parent = make_envelope(kid=runtime.keyring.active)
    reset = bind(Job(envelope=parent, task_id="parent-job", runtime=runtime))
    try:
        other.send_task("user.task", args=(1,))
    finally:
        unbind(reset)

    headers, _ = published[-1]
    child = decode(headers[HEADER_KEY], keyring=runtime.keyring)
    assert child.lineage.parent_id == "parent-job"
    assert child.lineage.depth == parent.lineage.depth + 1
    assert child.region == parent.region
