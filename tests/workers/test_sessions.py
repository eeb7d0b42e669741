"""``bedrock_session()``'s Bedrock clients: the job's endpoint by default, and only allowed ones.

The worker's environment is hostile (``wrong_worker_env``: every endpoint variable at a decoy).
Nothing here reaches a network: a refused request is stopped before it is sent, and an allowed
one is read at botocore's ``before-send``, signed and ready to go.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

import workers
from tests.factories import make_envelope
from tests.workers.test_clients import Sent
from workers import EndpointNotAllowed, WorkerSettings
from workers.context import Job, bind, unbind
from workers.runtime import WorkerRuntime

EMULATOR = "http://127.0.0.1:8750"
DECOY = "http://127.0.0.1:9"


def in_job(allowed: str, **overrides: Any) -> Iterator[Any]:
    settings = WorkerSettings(
        envelope_key="unit-test-envelope-key-0123456789",  # type: ignore[arg-type]
        allowed_endpoints=allowed,  # type: ignore[arg-type]
    )
    runtime = WorkerRuntime(settings)
    token = bind(Job(envelope=make_envelope(**overrides), task_id="job-1", runtime=runtime))
    try:
        yield runtime
    finally:
        unbind(token)


@pytest.fixture()
def emulated_job(wrong_worker_env) -> Iterator[Any]:
    """A job on the emulator, on a worker that allows that one origin."""
    yield from in_job(EMULATOR, endpoint_url=EMULATOR)


@pytest.fixture()
def aws_job(wrong_worker_env) -> Iterator[Any]:
    """A job on the regional default, on a worker that allows only loopback besides."""
    yield from in_job("loopback")


def sent(client: Any, call: str, **params: Any) -> Any:
    """The request ``client`` would send for ``call``: stopped after every other handler ran."""

    def stop(request: Any, **_: Any) -> None:
        raise Sent(request)

    client.meta.events.register_last("before-send", stop)
    with pytest.raises(Sent) as caught:
        getattr(client, call)(**params)
    return caught.value.args[0]


CONVERSE = {
    "modelId": "eu.anthropic.claude-sonnet-4-20250514-v1:0",
    "messages": [{"role": "user", "content": [{"text": "hi"}]}],
}


@pytest.mark.parametrize("service", ["bedrock-runtime", "bedrock"])
def test_a_bedrock_client_from_the_session_inherits_the_envelope_endpoint(emulated_job, service):
    client = workers.bedrock_session().client(service)
    assert client.meta.endpoint_url == EMULATOR


def test_the_inherited_client_sends_to_the_envelope_endpoint(emulated_job):
    client = workers.bedrock_session().client("bedrock-runtime")
    assert sent(client, "converse", **CONVERSE).url.startswith(f"{EMULATOR}/model/")


def test_the_control_client_goes_to_the_control_host_beside_aws_runtime(aws_job):
    session = workers.bedrock_session()
    assert session.client("bedrock").meta.endpoint_url == "https://bedrock.eu-west-1.amazonaws.com"
    request = sent(session.client("bedrock"), "list_inference_profiles")
    assert request.url.startswith("https://bedrock.eu-west-1.amazonaws.com/")


@pytest.mark.parametrize("service", ["bedrock-runtime", "bedrock"])
def test_a_client_pointed_at_an_endpoint_the_worker_does_not_allow_is_refused_when_made(
    emulated_job, service
):
    with pytest.raises(EndpointNotAllowed) as caught:
        workers.bedrock_session().client(service, endpoint_url=DECOY)
    message = str(caught.value)
    assert "endpoint http://127.0.0.1:9 is not allowed on this worker for region eu-west-1" in (
        message
    )
    assert f"this job's: {EMULATOR}" in message


def test_a_client_made_past_the_session_wrapper_is_refused_before_sending(emulated_job):
    core = workers.bedrock_session()._session  # as a library that takes a botocore session
    client = core.create_client("bedrock-runtime", region_name="eu-west-1", endpoint_url=DECOY)

    def reached(request: Any, **_: Any) -> None:  # only a request past the guard gets here
        raise AssertionError(f"sent to {request.url}")

    client.meta.events.register_last("before-send", reached)
    with pytest.raises(EndpointNotAllowed, match=re.escape("http://127.0.0.1:9 is not allowed")):
        client.converse(**CONVERSE)


def test_a_default_aws_client_is_refused_when_the_job_is_on_another_endpoint(emulated_job):
    core = workers.bedrock_session()._session
    client = core.create_client("bedrock-runtime", region_name="eu-west-1")  # regional default
    with pytest.raises(
        EndpointNotAllowed, match=re.escape("bedrock-runtime.eu-west-1.amazonaws.com:443")
    ):
        client.converse(**CONVERSE)


def test_an_endpoint_the_allowlist_admits_may_be_named(aws_job):
    client = workers.bedrock_session().client("bedrock-runtime", endpoint_url=EMULATOR)
    assert sent(client, "converse", **CONVERSE).url.startswith(f"{EMULATOR}/model/")


def test_an_endpoint_with_a_path_is_refused_as_no_origin(emulated_job):
    with pytest.raises(EndpointNotAllowed, match="has a path"):
        workers.bedrock_session().client("bedrock-runtime", endpoint_url=f"{EMULATOR}/x")


def test_other_services_keep_their_own_endpoints(emulated_job):
    client = workers.bedrock_session().client("sts", endpoint_url=DECOY)
    assert client.meta.endpoint_url == DECOY


def test_jobs_on_different_endpoints_in_one_thread_get_their_own_endpoint(emulated_job):
    runtime = emulated_job
    seen = []
    for endpoint in (EMULATOR, "http://127.0.0.1:8751", EMULATOR):
        envelope = make_envelope(endpoint_url=endpoint)
        token = bind(Job(envelope=envelope, task_id="job-2", runtime=runtime))
        try:
            seen.append(workers.bedrock_session().client("bedrock-runtime").meta.endpoint_url)
        finally:
            unbind(token)
    assert seen == [EMULATOR, "http://127.0.0.1:8751", EMULATOR]


@pytest.mark.parametrize(
    "service", ["bedrock-agent-runtime", "bedrock-agent", "bedrock-data-automation-runtime"]
)
def test_a_client_of_any_bedrock_service_is_refused_an_endpoint_the_worker_does_not_allow(
    service,
):
    # Every Bedrock client of a job's session carries the job's identity (its session token):
    # one pointed elsewhere is refused when it is made, and one built past the wrapper is
    # refused before its request leaves, instead of sending the token anywhere.
    from botocore.config import Config
    from botocore.credentials import Credentials

    from workers.sessions import pinned_session

    session = pinned_session(Credentials("AKID", "secret", "token"), region="eu-west-1")
    with pytest.raises(EndpointNotAllowed):
        session.client(service, endpoint_url="http://127.0.0.1:9")
    client = session._session.create_client(
        service,
        region_name="eu-west-1",
        endpoint_url="http://127.0.0.1:9",
        config=Config(retries={"max_attempts": 0}),
    )
    name, kwargs = {
        "bedrock-agent-runtime": (
            "retrieve",
            {"knowledgeBaseId": "KB12345678", "retrievalQuery": {"text": "x"}},
        ),
        "bedrock-agent": ("list_agents", {}),
        "bedrock-data-automation-runtime": (
            "list_tags_for_resource",
            {"resourceARN": "arn:aws:bedrock:eu-west-1:111122223333:data-automation-project/p"},
        ),
    }[service]
    with pytest.raises(EndpointNotAllowed):  # it was sent before, the job's token with it
        getattr(client, name)(**kwargs)


def test_another_bedrock_service_may_call_its_own_regional_endpoint():
    from botocore.credentials import Credentials

    from workers.sessions import pinned_session

    session = pinned_session(Credentials("AKID", "secret", "token"), region="eu-west-1")
    client = session.client("bedrock-agent-runtime")
    assert client.meta.endpoint_url == "https://bedrock-agent-runtime.eu-west-1.amazonaws.com"
    session.baton_guard.check(client.meta.endpoint_url, service="bedrock-agent-runtime")
