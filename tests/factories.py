"""Small builders shared by unit tests: envelopes and keyrings with sensible defaults."""

from __future__ import annotations

import time
from typing import Any

from envelope import BedrockEnvelope, Keyring, Lineage

KEY = "unit-test-envelope-key-0123456789"


def keyring(kid: str = "default", key: str = KEY) -> Keyring:
    return Keyring(keys={kid: key.encode()}, active=kid)


def make_envelope(**overrides: Any) -> BedrockEnvelope:
    now = int(time.time())
    fields: dict[str, Any] = {
        "region": "eu-west-1",
        "cross_region": True,
        "model_id": "eu.anthropic.claude-sonnet-4-20250514-v1:0",
        "endpoint_url": None,
        "lineage": Lineage(root_id="root-1"),
        "iat": now,
        "exp": now + 600,
        "kid": "default",
    }
    fields.update(overrides)
    return BedrockEnvelope(**fields)
