"""Fixtures of the worker unit tests."""

from __future__ import annotations

import pytest

from emulator import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY


@pytest.fixture()
def wrong_worker_env(monkeypatch):
    """A badly configured worker machine: us-east-1, every endpoint variable at a decoy, a stray
    bearer token, and the fleet's key in plain sight of any subprocess."""
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.setenv(name, "us-east-1")
    for name in (
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
        "AWS_ENDPOINT_URL_BEDROCK",
        "ANTHROPIC_BEDROCK_BASE_URL",
    ):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "stray-token")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", TEST_ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", TEST_SECRET_ACCESS_KEY)
    monkeypatch.setenv("BATON_ENVELOPE_KEY", "a-secret-that-must-not-reach-a-subprocess")
