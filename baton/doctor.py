"""``baton doctor``: one tiny Converse call with exactly the configuration ``baton run`` captures.

The client is built by the workers' own factory settings (region pinned, endpoint only from the
envelope, SigV4 pinned), so a success here means a worker with this envelope succeeds too.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import boto3
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    PartialCredentialsError,
)
from rich.console import Console
from rich.markup import escape

from envelope import BedrockEnvelope, Lineage, ResolutionError
from orchestrator import (
    Diagnosis,
    ProducerSettings,
    bedrock_error,
    capture,
    capture_location,
    connection_error,
    discovered_catalogue,
    no_credentials,
)
from workers import client_config, emulator_hint, emulator_regions

#: The smallest useful call: one word in, one token out.
PING = {
    "messages": [{"role": "user", "content": [{"text": "ping"}]}],
    "inferenceConfig": {"maxTokens": 1},
}


def _envelope(region: str, model_id: str, endpoint: str | None, cross_region: bool) -> Any:
    return BedrockEnvelope(
        region=region,
        cross_region=cross_region,
        model_id=model_id,
        endpoint_url=endpoint,
        lineage=Lineage(root_id="doctor"),
        iat=0,
        exp=1,
        kid="unsigned",
    )


def call(envelope: BedrockEnvelope, environ: Mapping[str, str]) -> Diagnosis:
    """Make the call a worker would make for ``envelope`` and diagnose the outcome."""
    client = boto3.Session().client(
        "bedrock-runtime",
        region_name=envelope.region,
        endpoint_url=envelope.endpoint_url,
        config=client_config(envelope, max_pool_connections=1),
    )
    try:
        client.converse(  # the smallest useful call: one word in, one token out
            modelId=envelope.model_id,
            messages=[{"role": "user", "content": [{"text": "ping"}]}],
            inferenceConfig={"maxTokens": 1},
        )
    except ClientError as exc:
        return _client_error(exc, envelope)
    except (NoCredentialsError, PartialCredentialsError) as exc:
        return no_credentials(exc)
    except BotoCoreError as exc:
        return connection_error(exc, endpoint=client.meta.endpoint_url, environ=environ)
    finally:
        client.close()
    return Diagnosis(
        True,
        "ok: Bedrock answered the call",
        [
            f"{envelope.model_id} in {envelope.region} via {client.meta.endpoint_url}",
        ],
    )


def _client_error(exc: ClientError, envelope: BedrockEnvelope) -> Diagnosis:
    error = exc.response.get("Error", {})
    code, message = error.get("Code", "Unknown"), error.get("Message", "")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
    verdict = bedrock_error(
        code, status, message, region=envelope.region, model_id=envelope.model_id
    )
    allowed = emulator_regions(exc.response)
    if code != "AccessDeniedException" or allowed is None:
        return verdict
    hint = emulator_hint(allowed, region=envelope.region)
    return Diagnosis(verdict.ok, verdict.title, [*verdict.lines, hint])


def run_doctor(
    *,
    region: str | None,
    model: str | None,
    endpoint: str | None,
    console: Console,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Capture, print, call, diagnose; return 0 only when the call succeeded."""
    env = os.environ if environ is None else environ
    settings = ProducerSettings()
    where, at = capture_location(environ=env, region=region, endpoint_url=endpoint)
    try:
        source = discovered_catalogue(env, settings=settings, region=region, endpoint_url=endpoint)
        config = capture(
            environ=env, region=region, model=model, endpoint_url=endpoint, source=source
        )
    except ResolutionError as exc:
        console.print(f"[red]the parent would refuse this model[/]: {escape(str(exc))}")
        raw = model or env.get("ANTHROPIC_MODEL") or env.get("BATON_MODEL") or ""
        console.print(f"asking Bedrock anyway with {raw!r}, to show what it says:")
        envelope = _envelope(where.value, raw, at.value, cross_region=True)
    else:
        for line in config.explain():
            console.print(f"  {escape(line)}")
        envelope = _envelope(where.value, config.model_id, at.value, config.cross_region.value)
    summary = {k: v for k, v in envelope.summary().items() if k not in ("kid", "exp")}
    console.print("envelope (no secrets): " + escape(json.dumps(summary)))
    verdict = call(envelope, env)
    colour = "green" if verdict.ok else "red"
    console.print(f"[{colour}]{escape(verdict.title)}[/]")
    for line in verdict.lines:
        console.print(f"  {escape(line)}")
    return 0 if verdict.ok else 1
