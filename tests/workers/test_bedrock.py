"""The worker-side API a user's task calls Bedrock with: pinned to the job's envelope, or refused.

The worker's environment is hostile in every test here (``wrong_worker_env``): us-east-1, a
decoy endpoint, a stray bearer token and a profile that does not exist. Requests are read at
botocore's ``before-send`` event, signed and ready to go, without a network.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from importlib.util import find_spec
from typing import Any

import pytest
from botocore.config import Config

import workers
from emulator import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY
from envelope import EnvelopeMissing
from tests.factories import make_envelope
from tests.workers.test_clients import Sent, signed_request
from workers import NoCurrentEnvelope, WorkerMisconfigured, WorkerSettings
from workers.context import Job, bind, unbind
from workers.runtime import WorkerRuntime
from workers.sessions import control_endpoint

#: The anthropic SDK comes with the ``anthropic`` (or ``compat``) extra, not with ``dev``.
needs_anthropic = pytest.mark.skipif(
    find_spec("anthropic") is None, reason="the anthropic extra is not installed"
)

API: dict[str, Callable[[], Any]] = {
    "bedrock_client": workers.bedrock_client,
    "bedrock_control_client": workers.bedrock_control_client,
    "bedrock_session": workers.bedrock_session,
    "bedrock_credentials": workers.bedrock_credentials,
    "anthropic_client": workers.anthropic_client,
    "async_anthropic_client": workers.async_anthropic_client,
    "claude_code_env": workers.claude_code_env,
}


def in_job(**overrides: Any) -> Iterator[Any]:
    runtime = WorkerRuntime(WorkerSettings(envelope_key="unit-test-envelope-key-0123456789"))  # type: ignore[arg-type]
    envelope = make_envelope(**overrides)
    token = bind(Job(envelope=envelope, task_id="job-1", runtime=runtime))
    try:
        yield envelope
    finally:
        unbind(token)


@pytest.fixture()
def job(wrong_worker_env) -> Iterator[Any]:
    yield from in_job()


@pytest.fixture()
def emulated_job(wrong_worker_env) -> Iterator[Any]:
    yield from in_job(endpoint_url="http://127.0.0.1:8750")


@pytest.mark.parametrize("name", sorted(API))
def test_outside_a_job_every_call_raises_envelope_missing(name: str):
    with pytest.raises(EnvelopeMissing, match="no inherited Bedrock configuration") as caught:
        API[name]()
    assert isinstance(caught.value, NoCurrentEnvelope)


def test_the_session_has_the_envelope_region_and_its_clients_ignore_the_worker_defaults(job):
    session = workers.bedrock_session()
    assert session.region_name == "eu-west-1"
    # As a framework does it: its own Config, no endpoint, no signature version of its own.
    client = session.client("bedrock-runtime", config=Config(read_timeout=30))
    assert client.meta.region_name == "eu-west-1"
    assert client.meta.endpoint_url == "https://bedrock-runtime.eu-west-1.amazonaws.com"
    authorization = signed_request(client).headers["Authorization"].decode()
    assert authorization.startswith(f"AWS4-HMAC-SHA256 Credential={TEST_ACCESS_KEY_ID}/")
    assert "/eu-west-1/bedrock/aws4_request" in authorization


def test_the_session_ignores_a_profile_region_too(job, monkeypatch, tmp_path):
    config = tmp_path / "config"
    config.write_text("[default]\nregion = us-east-1\nendpoint_url = http://127.0.0.1:9\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    client = workers.bedrock_session().client("bedrock-runtime")
    assert (client.meta.region_name, client.meta.endpoint_url) == (
        "eu-west-1",
        "https://bedrock-runtime.eu-west-1.amazonaws.com",
    )


def test_the_session_is_one_per_thread_and_reused_within_it(job):
    import threading

    first = workers.bedrock_session()
    assert workers.bedrock_session() is first
    seen: list[Any] = []
    context = __import__("contextvars").copy_context()
    thread = threading.Thread(target=lambda: seen.append(context.run(workers.bedrock_session)))
    thread.start()
    thread.join()
    assert seen and seen[0] is not first and seen[0].region_name == "eu-west-1"


def test_credentials_are_the_envelope_identity_frozen(job):
    credentials = workers.bedrock_credentials()
    assert credentials.access_key == TEST_ACCESS_KEY_ID
    assert credentials.secret_key == TEST_SECRET_ACCESS_KEY
    assert credentials.token is None


def test_the_control_client_is_pinned_like_the_runtime_client(job):
    client = workers.bedrock_control_client()
    assert client.meta.region_name == "eu-west-1"
    assert client.meta.endpoint_url == "https://bedrock.eu-west-1.amazonaws.com"
    assert workers.bedrock_control_client() is client

    def stop(request: Any, **_: Any) -> None:
        raise Sent(request)

    client.meta.events.register("before-send.bedrock.GetInferenceProfile", stop)
    with pytest.raises(Sent) as caught:
        client.get_inference_profile(inferenceProfileIdentifier="eu.anthropic.x")
    authorization = caught.value.args[0].headers["Authorization"].decode()
    assert authorization.startswith(f"AWS4-HMAC-SHA256 Credential={TEST_ACCESS_KEY_ID}/")


def test_the_control_client_goes_where_the_envelope_endpoint_goes(emulated_job):
    assert workers.bedrock_control_client().meta.endpoint_url == "http://127.0.0.1:8750"


@pytest.mark.parametrize(
    ("runtime", "control"),
    [
        (None, None),
        ("http://127.0.0.1:8750", "http://127.0.0.1:8750"),
        ("https://gateway.example.internal", "https://gateway.example.internal"),
        (
            "https://bedrock-runtime.eu-west-1.amazonaws.com",
            "https://bedrock.eu-west-1.amazonaws.com",
        ),
        (
            "https://bedrock-runtime-fips.us-east-1.amazonaws.com:443",
            "https://bedrock-fips.us-east-1.amazonaws.com:443",
        ),
        ("https://vpce-0a1b.bedrock-runtime.eu-west-1.vpce.amazonaws.com", None),
    ],
)
def test_control_endpoint_beside_each_runtime_endpoint(runtime, control):
    assert control_endpoint(runtime) == control


def test_claude_code_env_carries_the_envelope_and_none_of_the_worker_defaults(emulated_job):
    base = {
        "PATH": "/usr/bin",
        "HOME": "/home/worker",
        "AWS_PROFILE": "decoy",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": "http://127.0.0.1:9",
        "AWS_BEARER_TOKEN_BEDROCK": "stray-token",
        "AWS_REGION": "us-east-1",
        "AWS_CA_BUNDLE": "/etc/ssl/corp.pem",
        "ANTHROPIC_API_KEY": "sk-not-this",
        "CLAUDE_CODE_USE_VERTEX": "1",
        "CLAUDE_CODE_SKIP_BEDROCK_AUTH": "1",
        "BATON_ENVELOPE_KEY": "fleet-secret",
    }
    env = workers.claude_code_env(base)
    assert {k: env[k] for k in ("PATH", "HOME", "AWS_CA_BUNDLE")} == {
        "PATH": "/usr/bin",
        "HOME": "/home/worker",
        "AWS_CA_BUNDLE": "/etc/ssl/corp.pem",
    }
    for name in (
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
        "AWS_BEARER_TOKEN_BEDROCK",
        "ANTHROPIC_API_KEY",
        "CLAUDE_CODE_USE_VERTEX",
        "CLAUDE_CODE_SKIP_BEDROCK_AUTH",
        "BATON_ENVELOPE_KEY",
    ):
        assert name not in env
    envelope = emulated_job
    assert env["CLAUDE_CODE_USE_BEDROCK"] == "1"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == env["AWS_BEDROCK_REGION"]
    assert env["AWS_REGION"] == "eu-west-1"
    assert env["ANTHROPIC_MODEL"] == envelope.model_id
    assert env["ANTHROPIC_BEDROCK_BASE_URL"] == env["AWS_BEDROCK_ENDPOINT"] == envelope.endpoint_url
    assert env["AWS_ACCESS_KEY_ID"] == TEST_ACCESS_KEY_ID
    assert env["ANTHROPIC_SMALL_FAST_MODEL"].startswith("eu.anthropic.claude-haiku")
    assert env["ANTHROPIC_DEFAULT_HAIKU_MODEL"] == env["ANTHROPIC_SMALL_FAST_MODEL"]


def test_claude_code_env_reads_the_process_environment_by_default(job):
    env = workers.claude_code_env()
    assert "BATON_ENVELOPE_KEY" not in env
    assert env["AWS_REGION"] == "eu-west-1"
    assert "ANTHROPIC_BEDROCK_BASE_URL" not in env  # the regional default: nothing to override


def test_claude_code_env_drops_the_fleets_settings_in_any_case(job, monkeypatch):
    """Issue 24, finding 5: settings are read without regard to case, so a worker takes
    ``baton_envelope_key`` as its key; the subprocess must get neither it nor the broker's
    password, nor any other spelling of the dropped prefixes."""
    secret = "lower-case-fleet-key-0123456789"
    broker = "redis://:hunter2@10.0.0.5:6379/0"
    monkeypatch.delenv("BATON_ENVELOPE_KEY")
    monkeypatch.setenv("baton_envelope_key", secret)
    monkeypatch.setenv("baton_broker_url", broker)
    assert WorkerSettings().envelope_key.get_secret_value() == secret  # the worker takes it
    base = {
        "PATH": "/usr/bin",
        "baton_envelope_key": secret,
        "Baton_Broker_Url": broker,
        "aws_endpoint_url": "http://127.0.0.1:9",
        "Aws_Profile": "decoy",
        "anthropic_api_key": "sk-not-this",
        "claude_code_use_vertex": "1",
        "Claude_Code_Skip_Bedrock_Auth": "1",
    }

    for env in (workers.claude_code_env(base), workers.claude_code_env()):
        assert not [k for k in env if k.upper().startswith(("BATON_", "CLAUDE_CODE_SKIP_"))]
        assert secret not in env.values()
        assert not [v for v in env.values() if "hunter2" in v]
        assert env["PATH"]
    env = workers.claude_code_env(base)
    assert set(base) - set(env) == set(base) - {"PATH"}
    assert env["AWS_REGION"] == "eu-west-1"


def test_an_alias_with_no_profile_in_the_geography_falls_back_to_the_job_model(wrong_worker_env):
    # ap-southeast-1 is in apac, where Haiku 4.5 has no profile: never another geography.
    for envelope in in_job(
        region="ap-southeast-1", model_id="apac.anthropic.claude-sonnet-4-20250514-v1:0"
    ):
        env = workers.claude_code_env({})
        assert env["ANTHROPIC_SMALL_FAST_MODEL"] == envelope.model_id
        assert env["ANTHROPIC_DEFAULT_SONNET_MODEL"].startswith("apac.")


@needs_anthropic
def test_the_anthropic_client_is_pinned_and_signs_with_sigv4_despite_a_bearer_token(job):
    client = workers.anthropic_client(max_retries=0)
    assert client.aws_region == "eu-west-1"
    assert str(client.base_url).rstrip("/") == "https://bedrock-runtime.eu-west-1.amazonaws.com"
    request = client._client.build_request(  # the SDK's own httpx client, as it would send
        "POST", str(client.base_url) + "model/m/invoke", json={"x": 1}
    )
    request.headers["Authorization"] = "Bearer stray-token"
    signed = client._client.auth.sync_auth_flow(request).__next__()  # type: ignore[union-attr]
    assert signed.headers["Authorization"].startswith(
        f"AWS4-HMAC-SHA256 Credential={TEST_ACCESS_KEY_ID}/"
    )
    assert "/eu-west-1/bedrock/aws4_request" in signed.headers["Authorization"]


@pytest.mark.parametrize("argument", ["aws_region", "base_url", "api_key", "http_client"])
def test_the_anthropic_client_refuses_arguments_the_envelope_decides(job, argument):
    with pytest.raises(TypeError, match="come from the job's envelope"):
        workers.anthropic_client(**{argument: "x"})


@needs_anthropic
def test_the_async_anthropic_client_is_pinned_too(emulated_job):
    client = workers.async_anthropic_client()
    assert client.aws_region == "eu-west-1"
    assert str(client.base_url).rstrip("/") == "http://127.0.0.1:8750"


@pytest.mark.parametrize("call", ["anthropic_client", "async_anthropic_client"])
def test_an_adapter_whose_sdk_is_missing_names_the_extra_to_install(job, monkeypatch, call):
    monkeypatch.setitem(sys.modules, "anthropic", None)  # as on a worker without the extra
    with pytest.raises(WorkerMisconfigured, match=r"pip install 'baton\[anthropic\]'"):
        API[call]()
