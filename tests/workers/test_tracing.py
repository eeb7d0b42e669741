"""Trace context beside the envelope: spawn, subagent and nested child form one trace.

A real Celery worker (in a thread, on the in-memory transport) and the emulator: eager mode is
never used, since it handles headers differently.
"""

from __future__ import annotations

import secrets

import pytest

pytest.importorskip("opentelemetry.sdk")

from celery.contrib.testing.worker import start_worker
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from emulator import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY, Emulator
from orchestrator import Orchestrator, ProducerSettings, capture, producer_app

BROKER, BACKEND = "memory://localhost/", "cache+memory://"


@pytest.fixture()
def exporter():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    yield exporter
    exporter.clear()


def test_a_tree_of_jobs_is_one_trace_with_a_span_per_subagent(exporter, monkeypatch):
    from workers import WorkerSettings, app, configure

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", TEST_ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", TEST_SECRET_ACCESS_KEY)
    key = secrets.token_urlsafe(32)
    with Emulator(allowed_regions={"eu-west-1"}) as bedrock:
        configure(
            app,
            WorkerSettings(
                broker_url=BROKER,
                result_backend=BACKEND,
                envelope_key=key,
                allowed_regions=("eu-west-1",),
                allowed_endpoints=(bedrock.url,),
            ),
        )
        # The in-memory transport is polled, by default once a second: a hop each, 4 s a tree.
        options = {**app.conf.broker_transport_options, "polling_interval": 0.01}
        monkeypatch.setitem(app.conf, "broker_transport_options", options)
        settings = ProducerSettings(broker_url=BROKER, result_backend=BACKEND, envelope_key=key)
        config = capture(environ={"AWS_REGION": "eu-west-1", "AWS_BEDROCK_ENDPOINT": bedrock.url})
        with (
            Orchestrator(config=config, settings=settings, app=producer_app(settings)) as orch,
            start_worker(
                app,
                pool="solo",
                queues=["baton.eu-west-1"],
                perform_ping_check=False,
                loglevel="ERROR",
            ),
        ):
            result = orch.gather([orch.spawn("<<tree depth=1 width=2>>")], timeout=60)[0]

    spans = exporter.get_finished_spans()
    spawn = next(s for s in spans if s.name == "baton.spawn")
    jobs = [s for s in spans if s.name.startswith("baton.subagent")]
    assert {s.context.trace_id for s in spans} == {spawn.context.trace_id}
    first = next(
        s
        for s in jobs
        if s.attributes["baton.job_id"] == result["job_id"]
        and s.parent.span_id == spawn.context.span_id
    )
    children = [s for s in jobs if s.attributes["baton.depth"] == 1]
    assert len(children) == 2
    assert {s.parent.span_id for s in children} == {first.context.span_id}
    assert {s.attributes["baton.region"] for s in jobs} == {"eu-west-1"}
