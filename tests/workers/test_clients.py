"""The client cache: K configurations build K clients, each pinned to its envelope alone."""

from __future__ import annotations

from typing import Any

import pytest

from emulator import TEST_ACCESS_KEY_ID
from envelope import ClientSettings, Lineage, ProfileAuth
from tests.factories import make_envelope
from workers import IdentityUnavailable
from workers.clients import ClientCache


class Sent(Exception):
    """Raised by a before-send hook so a test can read a signed request without a network."""


def signed_request(client: Any) -> Any:
    def stop(request: Any, **_: Any) -> None:
        raise Sent(request)

    client.meta.events.register("before-send.bedrock-runtime.Converse", stop)
    with pytest.raises(Sent) as caught:
        client.converse(
            modelId="eu.anthropic.claude-sonnet-4-20250514-v1:0",
            messages=[{"role": "user", "content": [{"text": "hi"}]}],
        )
    return caught.value.args[0]


def test_n_tasks_with_k_configs_build_exactly_k_clients(wrong_worker_env):
    cache = ClientCache(max_pool_connections=10, max_size=16)
    configs = [
        make_envelope(),
        make_envelope(region="eu-central-1"),
        make_envelope(endpoint_url="http://127.0.0.1:8750"),
    ]
    for i in range(30):
        base = configs[i % 3]
        lineage = Lineage(root_id=f"root-{i}", parent_id=f"p-{i}", depth=i % 3)
        cache.get(base.model_copy(update={"lineage": lineage, "exp": base.exp + i}))
    assert cache.builds == 3
    assert len(cache) == 3


def test_the_client_uses_the_envelope_region_not_the_worker_defaults(wrong_worker_env):
    client = ClientCache(max_pool_connections=10, max_size=4).get(make_envelope())
    assert client.meta.region_name == "eu-west-1"
    assert client.meta.endpoint_url == "https://bedrock-runtime.eu-west-1.amazonaws.com"


def test_the_client_uses_the_envelope_endpoint_when_it_names_one(wrong_worker_env):
    envelope = make_envelope(endpoint_url="http://127.0.0.1:8750")
    client = ClientCache(max_pool_connections=10, max_size=4).get(envelope)
    assert client.meta.endpoint_url == "http://127.0.0.1:8750"


def test_an_ambient_bearer_token_cannot_replace_sigv4(wrong_worker_env):
    client = ClientCache(max_pool_connections=10, max_size=4).get(make_envelope())
    request = signed_request(client)
    authorization = request.headers["Authorization"].decode()
    assert authorization.startswith(f"AWS4-HMAC-SHA256 Credential={TEST_ACCESS_KEY_ID}/")
    assert "/eu-west-1/bedrock/aws4_request" in authorization
    assert "ambient-token" not in authorization


def test_client_settings_come_from_the_envelope(wrong_worker_env):
    settings = ClientSettings(
        retry_mode="adaptive", max_attempts=5, connect_timeout=2, read_timeout=9
    )
    client = ClientCache(max_pool_connections=50, max_size=4).get(make_envelope(client=settings))
    config = client.meta.config
    assert config.retries == {"mode": "adaptive", "total_max_attempts": 5}
    assert (config.connect_timeout, config.read_timeout) == (2, 9)
    assert config.max_pool_connections == 50


def test_the_cache_is_a_bounded_lru_that_counts_evictions(wrong_worker_env):
    cache = ClientCache(max_pool_connections=10, max_size=2)
    for region in ("eu-west-1", "eu-west-2", "eu-west-3"):
        cache.get(make_envelope(region=region))
    assert (len(cache), cache.evictions, cache.builds) == (2, 1, 3)


def test_the_client_used_last_is_the_one_kept(wrong_worker_env):
    cache = ClientCache(max_pool_connections=10, max_size=2)
    first, second, third = (
        make_envelope(region=r) for r in ("eu-west-1", "eu-west-2", "eu-west-3")
    )
    kept = cache.get(first)
    cache.get(second)
    cache.get(first)  # used again: now the second is the least recently used
    cache.get(third)

    assert cache.get(first) is kept
    assert cache.builds == 3


def test_a_profile_missing_on_the_worker_is_a_clear_error(wrong_worker_env, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    cache = ClientCache(max_pool_connections=10, max_size=2)
    with pytest.raises(IdentityUnavailable, match=r"profile 'team-eu'.*does not exist"):
        cache.get(make_envelope(auth=ProfileAuth(name="team-eu")))


def test_the_cache_is_emptied_in_a_forked_child(wrong_worker_env):
    import os

    cache = ClientCache(max_pool_connections=10, max_size=2)
    cache.get(make_envelope())
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report the size it inherited, then leave without cleanup
        os.write(write, str(len(cache)).encode())
        os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    inherited = os.read(read, 16).decode()
    os.close(read)
    assert (inherited, os.waitstatus_to_exitcode(status), len(cache)) == ("0", 0, 1)
