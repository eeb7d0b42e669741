"""Fixtures for the emulator's tests: factories that start real servers and real boto3 clients.

Nothing here mocks boto3 or botocore: clients sign with SigV4 and talk HTTP to an emulator in a
background thread, and every fixture closes what it opened, so no ResourceWarning escapes.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from emulator import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY, Emulator
from tests.support import boto


@dataclass(frozen=True)
class RawResponse:
    """What came back over a plain http.client connection."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@pytest.fixture
def make_emulator() -> Iterator[Callable[..., Emulator]]:
    """Start emulators (eu-west-1 allowed unless told otherwise) and stop them all afterwards."""
    started: list[Emulator] = []

    def factory(**kwargs: Any) -> Emulator:
        kwargs.setdefault("allowed_regions", frozenset({"eu-west-1"}))
        emulator = Emulator(**kwargs).start()
        started.append(emulator)
        return emulator

    yield factory
    for emulator in started:
        emulator.stop()


@pytest.fixture
def emulator(make_emulator: Callable[..., Emulator]) -> Emulator:
    """One running emulator whose policy allows eu-west-1 only."""
    return make_emulator()


@pytest.fixture
def make_client() -> Iterator[Callable[..., Any]]:
    """Build real bedrock-runtime (or ``service="bedrock"``) clients; close them afterwards."""
    clients: list[Any] = []

    def factory(
        emulator: Emulator,
        *,
        region: str = "eu-west-1",
        access_key: str = TEST_ACCESS_KEY_ID,
        secret_key: str = TEST_SECRET_ACCESS_KEY,
        service: str = "bedrock-runtime",
    ) -> Any:
        client = boto.client(
            service,
            region_name=region,
            endpoint_url=emulator.url,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=Config(
                signature_version="v4", retries={"mode": "standard", "total_max_attempts": 1}
            ),
        )
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()


class Wire:
    """Raw HTTP helpers, for what boto3 will not send: tampered bodies, bad or missing headers."""

    @staticmethod
    def converse_body(text: str = "hello") -> bytes:
        """Return a minimal Converse request body."""
        return json.dumps({"messages": [{"role": "user", "content": [{"text": text}]}]}).encode()

    @staticmethod
    def model_path(model_id: str, operation: str = "converse") -> str:
        """Return the path botocore sends for ``model_id``: the ID percent-encoded once."""
        return f"/model/{quote(model_id, safe='')}/{operation}"

    @staticmethod
    def sign(
        emulator: Emulator,
        path: str,
        body: bytes,
        *,
        region: str = "eu-west-1",
        access_key: str = TEST_ACCESS_KEY_ID,
        secret_key: str = TEST_SECRET_ACCESS_KEY,
        method: str = "POST",
    ) -> dict[str, str]:
        """Sign a request exactly as botocore would, and return the headers to send."""
        request = AWSRequest(
            method=method,
            url=emulator.url + path,
            data=body,
            headers={"Content-Type": "application/json"},
        )
        SigV4Auth(Credentials(access_key, secret_key), "bedrock", region).add_auth(request)
        return dict(request.headers.items())

    @staticmethod
    def send(
        emulator: Emulator,
        method: str,
        path: str,
        *,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> RawResponse:
        """Send one request over a fresh connection and close it."""
        url = urlsplit(emulator.url)
        connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return RawResponse(response.status, dict(response.getheaders()), response.read())
        finally:
            connection.close()


@pytest.fixture
def wire() -> Wire:
    """Raw HTTP helpers (signing with botocore's own signer, sending with http.client)."""
    return Wire()


@pytest.fixture
def task_tools() -> dict[str, Any]:
    """The toolConfig Baton's worker sends: one ``Task`` tool that starts a subagent."""
    properties = {
        name: {"type": "string"} for name in ("description", "prompt", "subagent_type", "model")
    }
    schema = {"type": "object", "properties": properties, "required": ["description", "prompt"]}
    spec = {"name": "Task", "description": "Start a subagent", "inputSchema": {"json": schema}}
    return {"tools": [{"toolSpec": spec}]}


@pytest.fixture
def policy_file(tmp_path: Path) -> Callable[..., Path]:
    """Write IAM statements to a JSON policy file and return its path."""

    def write(*statements: dict[str, Any]) -> Path:
        path = tmp_path / f"policy-{len(list(tmp_path.iterdir()))}.json"
        path.write_text(json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))
        return path

    return write
