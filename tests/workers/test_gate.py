"""The gate: deny by default for Celery's built-ins, and a refused message disarmed.

A built-in that publishes (``celery.group``, ``chord``, ``chunks``...) would publish on the
worker's behalf, so no message may start one; the few that publish nothing run ungated. The
real attack, through a worker and the emulator, is in tests/integration/test_injection.py.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from envelope import HEADER_KEY, EnvelopeMissing, encode
from tests.factories import bound_request, keyring, make_envelope
from workers import BuiltinNotAllowed, WorkerSettings, create_app
from workers.context import VOUCHED_ATTRIBUTE
from workers.gate import ADMITTED_BUILTINS, BUILTIN_PREFIX, UNGATED_TASKS, disarm

SETTINGS = WorkerSettings(
    broker_url="memory://localhost/",
    result_backend="cache+memory://",
    envelope_key="k" * 32,
    allowed_regions=("eu-west-1",),
)


def test_every_builtin_a_worker_app_registers_but_three_is_refused_when_a_message_asks():
    app = create_app(SETTINGS)
    builtins = sorted(name for name in app.tasks if name.startswith(BUILTIN_PREFIX))
    assert {"celery.group", "celery.chord", "celery.chunks", "celery.starmap"} <= set(builtins)

    refused = [name for name in builtins if name not in UNGATED_TASKS | ADMITTED_BUILTINS]
    for name in refused:
        result = app.tasks[name].apply(args=(), kwargs={}, headers={})
        assert isinstance(result.result, BuiltinNotAllowed), (name, result.result)
    assert set(builtins) - set(refused) <= {"celery.accumulate", "celery.backend_cleanup"}


def test_celery_accumulate_runs_only_with_an_envelope_bound_to_its_message():
    app = create_app(SETTINGS)
    result = app.tasks["celery.accumulate"].apply(args=({"forged": 1},), kwargs={"index": 0})
    assert isinstance(result.result, EnvelopeMissing), result.result


def test_an_ungated_builtin_runs_with_no_chord_group_callbacks_or_stored_result():
    app = create_app(SETTINGS)
    task = app.tasks["celery.backend_cleanup"]
    fields = {"chord": {"task": "t"}, "group": "g", "group_index": 0, "callbacks": [{"task": "t"}]}
    task.push_request(id="a queued job's id", errbacks=[{"task": "t"}], chain=[{}], **fields)
    try:
        task()
        request = task.request
        assert (request.chord, request.group, request.callbacks) == (None, None, None)
        assert (request.errbacks, request.chain) == (None, None)
        assert request.ignore_result is True
    finally:
        task.pop_request()


def test_a_builtin_celery_adds_later_is_refused_too():
    app = create_app(SETTINGS)

    @app.task(name="celery.future_builtin", shared=False)
    def future_builtin() -> str:
        return "ran"

    assert isinstance(future_builtin.apply().result, BuiltinNotAllowed)


def chord_body(token: str) -> dict[str, object]:
    return {"task": "baton.subagent.resume", "options": {"headers": {HEADER_KEY: token}}}


def test_a_refused_message_whose_binding_holds_keeps_its_chord_and_publishes_nothing_else():
    runtime = create_app(SETTINGS).baton_runtime
    token = encode(make_envelope(), keyring=runtime.keyring)
    request = bound_request(
        token,
        embed={"chord": chord_body(token), "errbacks": [{"task": "user.errback"}]},
        ring=runtime.keyring,
    )
    request.group, request.group_index = None, None

    disarm(runtime, request, task_name="baton.subagent")

    assert request.errbacks is None and request.callbacks is None and request.chain is None
    assert request.chord == chord_body(token)
    assert getattr(request, VOUCHED_ATTRIBUTE) == {token}


def test_a_refused_message_whose_binding_fails_counts_in_no_chord():
    runtime = create_app(SETTINGS).baton_runtime
    token = encode(make_envelope(), keyring=runtime.keyring)
    copied = bound_request(token, embed={"chord": chord_body(token)}, ring=keyring())
    request = SimpleNamespace(**{**vars(copied), "kwargs": {"prompt": "forged"}})
    request.group, request.group_index = "someone-elses-chord", 0

    disarm(runtime, request, task_name="baton.subagent")

    assert (request.chord, request.group) == (None, None)
    assert not hasattr(request, VOUCHED_ATTRIBUTE)


def test_a_refused_job_id_with_a_newline_writes_one_log_line(caplog):
    app = create_app(SETTINGS)

    @app.task(name="user.refused", shared=False)
    def refused() -> None:
        return None

    forged = "job-1\n[2026-12-06 21:00:00,000: INFO/MainProcess] Task user.refused succeeded"
    refused.apply(task_id=forged, headers={})

    lines = [r.getMessage() for r in caplog.records if r.name == "baton.worker"]
    assert lines and not any("\n" in line for line in lines), lines


def test_a_worker_fails_a_job_with_its_refusal_only_when_the_message_is_bound_to_it():
    from celery.exceptions import Ignore

    from workers import RegionNotAllowed

    app = create_app(SETTINGS)
    runtime = app.baton_runtime
    task = app.tasks["baton.subagent"]
    foreign = encode(make_envelope(region="us-east-1", model_id="us.x"), keyring=runtime.keyring)
    bound = bound_request(foreign, ring=runtime.keyring)
    named = SimpleNamespace(id="a queued job's id", headers={}, args=[], kwargs={})
    for request in (bound, named):
        request.is_eager, request.group, request.group_index = False, None, None

    with pytest.raises(RegionNotAllowed):  # stored by Celery as the job's failure
        task._admit(runtime, bound)
    with pytest.raises(Ignore):  # acknowledged, nothing stored under the id it named
        task._admit(runtime, named)
    named.is_eager = True  # an eager caller, in this process, gets the refusal itself
    with pytest.raises(EnvelopeMissing):
        task._admit(runtime, named)
