"""``baton emulator``: the local Bedrock endpoint, with its policy and fault options."""

from __future__ import annotations

from typing import Any

import click

from baton.errors import CliExit


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Bind address (loopback).")
@click.option("--port", default=8750, show_default=True, help="Port; 0 picks a free one.")
@click.option("--allow-region", "allowed", multiple=True, help="Region the IAM policy allows.")
@click.option("--policy", type=click.Path(exists=True, dir_okay=False), help="IAM policy file.")
@click.option(
    "--app-profile",
    "app_profiles",
    multiple=True,
    metavar="NAME=MODEL_ID",
    help="Declare an application inference profile (repeat).",
)
@click.option("--latency", default=0.0, show_default=True, help="Seconds added to each call.")
@click.option("--jitter", default=0.0, show_default=True, help="Up to this many more seconds.")
@click.option("--throttle-rate", default=0.0, help="Fraction of calls answered 429 Throttling.")
@click.option("--unavailable-rate", default=0.0, help="Fraction answered 503 Unavailable.")
@click.option("--model-error-rate", default=0.0, help="Fraction answered 424 ModelError.")
@click.option("--not-ready-rate", default=0.0, help="Fraction answered 429 ModelNotReady.")
@click.option("--drop-rate", default=0.0, help="Fraction of connections dropped unanswered.")
@click.option("--seed", type=int, default=None, help="Make the fault sequence repeatable.")
@click.option(
    "--requests-per-minute", type=int, default=None, help="Requests quota per region and model ID."
)
@click.option(
    "--tokens-per-minute", type=int, default=None, help="Tokens quota per region and model ID."
)
@click.option("--quota-burst", default=1.0, show_default=True, help="Seconds of quota at once.")
@click.option(
    "--max-output-tokens",
    default=64_000,
    show_default=True,
    help="Tokens a call without maxTokens reserves.",
)
def emulator(
    host: str,
    port: int,
    allowed: tuple[str, ...],
    policy: str | None,
    app_profiles: tuple[str, ...],
    **faults: Any,
) -> None:
    """Serve the local Bedrock-compatible endpoint (SigV4, IAM, Converse, streaming, faults).

    It prints `BATON_EMULATOR_READY <url>` once listening; see the README for the policy file
    format and `GET/POST /_baton/faults`, `GET/POST /_baton/quotas`, `GET /_baton/calls`.

    \b
    Examples:
      baton emulator --port 8750 --allow-region eu-west-1
      baton emulator --policy ops/iam/worker-eu.json --throttle-rate 0.2 --seed 1
      baton emulator --allow-region eu-west-1 --requests-per-minute 600 --latency 1
      AWS_ENDPOINT_URL=http://127.0.0.1:8750 aws bedrock-runtime converse ...
    """
    from emulator import READY_PREFIX, ConfigurationError, serve

    def ready(url: str) -> None:
        click.echo(f"{READY_PREFIX} {url}")

    if not allowed and not policy:
        click.echo(
            "warning: no --allow-region or --policy; every Bedrock call will get 403", err=True
        )
    profiles = dict(item.split("=", 1) for item in app_profiles if "=" in item)
    try:
        serve(
            host=host,
            port=port,
            allowed_regions=frozenset(allowed),
            policy=policy,
            app_profiles=profiles,
            on_ready=ready,
            **faults,
        )
    except ConfigurationError as exc:
        raise CliExit(f"emulator: {exc}") from exc
