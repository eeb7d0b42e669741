"""Discovery: ListInferenceProfiles in the parent's region corrects the shipped catalogue.

Real boto3 against the in-process emulator, whose profile listing follows the same destination
table the policies use.
"""

from __future__ import annotations

import pytest

from emulator import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY, Emulator
from envelope import resolve
from orchestrator import ProducerSettings
from orchestrator.discovery import discover, fetch
from orchestrator.parent import discovered_catalogue


@pytest.fixture()
def credentials(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", TEST_ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", TEST_SECRET_ACCESS_KEY)


def test_discovery_lists_the_profiles_callable_from_the_region(credentials):
    with Emulator(allowed_regions={"ap-southeast-2"}) as bedrock:
        found = fetch(region="ap-southeast-2", endpoint_url=bedrock.url)
    haiku = "au.anthropic.claude-haiku-4-5-20251001-v1:0"
    assert haiku in found.profiles
    assert set(found.profiles[haiku]) == {"ap-southeast-2", "ap-southeast-4"}
    assert not any(p.startswith(("eu.", "us.")) for p in found.profiles)


def test_a_discovered_catalogue_beats_the_shipped_one(credentials):
    with Emulator(allowed_regions={"ap-southeast-2"}) as bedrock:
        found = fetch(region="ap-southeast-2", endpoint_url=bedrock.url)
    ids = {k: v for k, v in found.profiles.items() if not k.startswith("au.anthropic.claude-h")}
    without_au_haiku = found.__class__(region=found.region, profiles=ids, fetched_at=0)
    with pytest.raises(Exception, match="has no inference profile"):
        resolve(
            "haiku", region="ap-southeast-2", cross_region=True, source=without_au_haiku.catalogue()
        )
    assert (
        resolve("haiku", region="ap-southeast-2", cross_region=True, source=found.catalogue())
        == "au.anthropic.claude-haiku-4-5-20251001-v1:0"
    )


def test_answers_are_cached_and_a_failure_falls_back_without_raising(credentials, tmp_path):
    with Emulator(allowed_regions={"eu-west-1"}) as bedrock:
        first = discover(region="eu-west-1", endpoint_url=bedrock.url, cache_dir=tmp_path, ttl=60)
        calls = len([c for c in bedrock.calls() if c.operation == "ListInferenceProfiles"])
        again = discover(region="eu-west-1", endpoint_url=bedrock.url, cache_dir=tmp_path, ttl=60)
        assert len([c for c in bedrock.calls() if c.operation == "ListInferenceProfiles"]) == calls
    assert first is not None and again is not None and again.profiles == first.profiles
    gone = discover(
        region="eu-west-1", endpoint_url="http://127.0.0.1:9", cache_dir=tmp_path / "x", ttl=60
    )
    assert gone is None


def test_discovery_can_be_switched_off(credentials, tmp_path):
    settings = ProducerSettings(discovery=False, cache_dir=tmp_path)
    environ = {"AWS_REGION": "eu-west-1", "AWS_BEDROCK_ENDPOINT": "http://127.0.0.1:9"}
    assert discovered_catalogue(environ, settings=settings, region=None, endpoint_url=None) is None
