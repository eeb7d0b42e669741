"""``baton demo``: the bug and the fix, side by side, with nothing to install or start.

One process plays every part: a local Bedrock emulator that allows only the parent's region, a
worker whose machine defaults point at us-east-1, an in-memory broker, and the parent.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from emulator import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY, Call, Emulator
from envelope import catalogue, queue_for, resolve
from orchestrator import (
    CapturedConfig,
    Orchestrator,
    ProducerSettings,
    access_denied,
    capture,
    producer_app,
)

#: The wrong default a worker machine commonly has: the bug this demo reproduces. When the parent
#: itself runs there, the worker's wrong default is the other US region instead.
WORKER_DEFAULT_REGION = "us-east-1"
WORKER_FALLBACK_REGION = "us-west-2"


def worker_default_region(parent_region: str) -> str:
    """Return a region that differs from the parent's, as a misconfigured worker's would."""
    return (
        WORKER_FALLBACK_REGION if parent_region == WORKER_DEFAULT_REGION else WORKER_DEFAULT_REGION
    )


#: An in-process broker and result store, so the demo needs no Redis.
MEMORY_BROKER = "memory://localhost/"
MEMORY_BACKEND = "cache+memory://"

PROMPTS = ("Name one risk of running subagents in the wrong region.", "Say hello from the fleet.")


@contextmanager
def worker_machine_defaults(endpoint: str, wrong_region: str) -> Iterator[None]:
    """Give this process the environment of a misconfigured worker machine, then restore it."""
    wrong = {
        "AWS_DEFAULT_REGION": wrong_region,
        "AWS_REGION": wrong_region,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": TEST_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": TEST_SECRET_ACCESS_KEY,
    }
    saved = {name: os.environ.get(name) for name in wrong}
    os.environ.update(wrong)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def without_baton(model: str, wrong_region: str, console: Console) -> str | None:
    """Call Bedrock as a subagent does that builds its client from local defaults.

    Returns the AccessDenied message when the bug reproduces, else None.
    """
    model_id = resolve(model, region=wrong_region, cross_region=True)
    console.print(f"  boto3.client('bedrock-runtime') -> region {wrong_region}, {model_id}")
    client = boto3.client("bedrock-runtime", config=Config(signature_version="v4"))
    try:
        client.converse(modelId=model_id, messages=[{"role": "user", "content": [{"text": "hi"}]}])
    except ClientError as exc:
        error = exc.response["Error"]
        status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
        console.print(f"  [red]{status} {error['Code']}[/]: {escape(error.get('Message', ''))}")
        return str(error.get("Message", "")) if error["Code"] == "AccessDeniedException" else None
    finally:
        client.close()
    console.print("  [yellow]unexpected success[/]")
    return None


def with_baton(*, config: CapturedConfig, key: str, console: Console) -> list[dict[str, Any]]:
    """Run the same prompts through an in-process broker and worker with the parent's envelope."""
    from celery.contrib.testing.worker import start_worker

    from workers import WorkerSettings, app, configure

    configure(
        app,
        WorkerSettings(
            broker_url=MEMORY_BROKER,
            result_backend=MEMORY_BACKEND,
            envelope_key=key,
            allowed_regions=(config.region.value,),
            # The emulator is plain http on loopback, which a worker serves only when told to.
            allowed_endpoints=tuple(filter(None, [config.endpoint_url.value])),
        ),
    )
    producer = ProducerSettings(
        broker_url=MEMORY_BROKER,
        result_backend=MEMORY_BACKEND,
        envelope_key=key,
    )
    for line in config.explain():
        console.print(f"  parent: {escape(line)}")
    queue = queue_for(config.region.value)
    with (
        Orchestrator(config=config, settings=producer, app=producer_app(producer)) as orch,
        start_worker(app, pool="solo", queues=[queue], perform_ping_check=False, loglevel="ERROR"),
    ):
        jobs = [orch.spawn(prompt) for prompt in PROMPTS]
        return orch.gather(jobs, timeout=30)


def journal_table(calls: list[Call]) -> Table:
    """Tabulate what the emulator received: region, model and outcome of every call."""
    table = Table("region (SigV4 scope)", "model ID", "auth", "status", "error")
    for call in calls:
        table.add_row(
            str(call.region),
            str(call.model_id),
            call.auth,
            str(call.status),
            call.error_code or "",
        )
    return table


def diagnose(message: str, *, config: CapturedConfig, console: Console) -> None:
    """Show what ``baton doctor`` says about the 403."""
    verdict = access_denied(message, region=config.region.value, model_id=config.model_id)
    console.print(f"  [red]{escape(verdict.title)}[/]")
    for line in verdict.lines:
        console.print(f"  {escape(line)}")


def run_demo(*, region: str, model: str | None, console: Console) -> int:
    """Run every part and return 0 when the bug reproduced and the fix held."""
    key = os.environ.get("BATON_ENVELOPE_KEY") or secrets.token_urlsafe(32)
    wrong = worker_default_region(region)
    console.rule(f"Baton demo: parent in {region}, worker machine defaults to {wrong}")
    with (
        Emulator(allowed_regions=frozenset({region})) as emu,
        worker_machine_defaults(emu.url, wrong),
    ):
        config = capture(
            environ={"AWS_REGION": region, "AWS_BEDROCK_ENDPOINT": emu.url}, model=model
        )
        console.print(f"Local Bedrock emulator at {emu.url}; its IAM policy allows only {region}.")
        console.print("\n[bold]1. A subagent that builds its client from the worker's defaults[/]")
        denied = without_baton(model or catalogue().default_alias, wrong, console)
        console.print("\n[bold]2. What `baton doctor` makes of that 403[/]")
        if denied is not None:
            diagnose(denied, config=config, console=console)
        console.print(
            "\n[bold]3. The same subagent under Baton, inheriting the parent's envelope[/]"
        )
        results = with_baton(config=config, key=key, console=console)
        for result in results:
            console.print(f"  [green]ok[/] job {result['job_id'][:8]} -> {escape(result['text'])}")
        console.print("\n[bold]4. What the emulator saw[/]")
        console.print(journal_table(emu.calls()))
    held = all(result["region"] == region for result in results)
    console.print(
        f"\nWhy: the worker machine says {wrong}, so a client built from local defaults is signed "
        f"for {wrong} and the region-scoped policy answers 403. Baton's workers build the client "
        f"from the signed envelope instead: region {region}, the parent's resolved model ID and "
        "endpoint, SigV4 pinned."
    )
    return 0 if denied is not None and held else 1
