"""The ``baton`` command.

Usage::

    baton demo                                   # everything embedded, no services
    baton worker --region eu-west-1              # consume baton.eu-west-1
    baton run --prompt "Summarise the design"    # spawn, wait, print
    baton emulator --port 8750 --allow-region eu-west-1
"""

from __future__ import annotations

import sys

from baton.green import patch_if_asked

# First, before anything below imports a library that opens sockets (baton.green says why).
patch_if_asked(sys.argv[1:])

import logging  # noqa: E402

import click  # noqa: E402

from baton.console import console  # noqa: E402
from baton.dead_letters import dead_letters  # noqa: E402
from baton.emulator import emulator  # noqa: E402
from baton.errors import CliExit, explained  # noqa: E402
from baton.worker import check_regions  # noqa: E402


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Run agent subtasks on a Celery fleet with the parent's exact Bedrock configuration.

    \b
    Examples:
      baton demo                                  # the bug and the fix, nothing to install
      baton worker --region eu-west-1             # serve queue baton.eu-west-1
      AWS_REGION=eu-west-1 baton run --prompt "Summarise the design"
      baton doctor                                # why 403? why 400?

    Exit codes: 0 success, 1 a subagent or the doctor's call failed, 2 bad input or
    configuration, 3 timed out.
    """


@main.command()
@click.option("--prompt", "prompts", multiple=True, required=True, help="One subagent per prompt.")
@click.option("--agent", help="Subagent type: explorer, planner, code-architect, ...")
@click.option("--model", help="Model alias or ID; resolved once, here, for the region.")
@click.option("--region", help="Bedrock region; beats AWS_BEDROCK_REGION, AWS_REGION, ...")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of result objects.")
@click.option("--rows", is_flag=True, help="A table row per job, even past 20 (else a summary).")
@click.option("--debug", is_flag=True, help="Show where each setting came from.")
@click.option("--timeout", default=300.0, show_default=True, help="Seconds to wait for results.")
def run(
    prompts: tuple[str, ...],
    agent: str | None,
    model: str | None,
    region: str | None,
    as_json: bool,
    rows: bool,
    debug: bool,
    timeout: float,
) -> None:
    """Enqueue one subagent per --prompt with the captured envelope, wait, and print results.

    \b
    Examples:
      AWS_REGION=eu-west-1 baton run --prompt "List the risks" --prompt "Draft a plan"
      baton run --region ap-southeast-2 --model haiku --json --prompt "Hello"

    Exit codes: 0 all succeeded, 1 a subagent failed, 2 bad configuration, 3 timed out.
    """
    from baton.reachability import require_backend, require_broker
    from baton.run import run_prompts
    from orchestrator import Orchestrator

    err = console(stderr=True)
    with explained():
        orch = Orchestrator.from_env(region=region, model=model)
    require_broker(orch.app)  # one line within seconds, rather than a traceback after retries
    require_backend(orch.app)
    if debug:
        for line in orch.config.explain():
            err.print(f"[dim]{line}[/]")
    code = run_prompts(
        orch,
        prompts,
        agent=agent,
        timeout=timeout,
        as_json=as_json,
        rows=rows,
        out=console(),
        err=err,
    )
    sys.exit(code)


@main.command()
@click.argument("root_id")
@click.option("--json", "as_json", is_flag=True, help="Print the jobs as a JSON list.")
def status(root_id: str, as_json: bool) -> None:
    """Show the job tree under ROOT_ID (printed by `baton run`), finished or still running.

    \b
    Examples:
      baton status 0eac4047d897421e89113725f8062479
      baton status 0eac4047d897421e89113725f8062479 --json | jq '.[].state'
    """
    import json

    from baton.reachability import require_backend
    from baton.status import collect, render
    from orchestrator import ProducerSettings, close_producer, producer_app

    with explained():
        app = producer_app(ProducerSettings())
    require_backend(app)
    try:
        roots, nodes = collect(app, root_id)
    finally:
        close_producer(app)
    if not roots:
        raise CliExit(f"no jobs recorded under root {root_id}; it may have expired or never run")
    if as_json:
        click.echo(json.dumps(list(nodes.values()), indent=2, default=str))
    else:
        console().print(render(roots, nodes, root_id))


@main.command()
@click.option(
    "--region",
    "regions",
    multiple=True,
    required=True,
    callback=lambda _ctx, _param, values: check_regions(values),
    help="Region to serve (repeat).",
)
@click.option(
    "--pool",
    type=click.Choice(["prefork", "threads", "gevent", "solo"]),
    default="prefork",
    show_default=True,
    help="Celery execution pool; gevent holds thousands of calls in flight per process.",
)
@click.option("--concurrency", type=click.IntRange(min=1), help="Task slots (default: CPU count).")
@click.option("--debug", is_flag=True, help="Log the inherited region, model and endpoint.")
@click.option("--loglevel", default="info", show_default=True, help="Celery log level.")
@click.option(
    "--include",
    "includes",
    multiple=True,
    metavar="MODULE",
    help="Import MODULE (your tasks on workers.app) before starting (repeat; BATON_INCLUDE too).",
)
@click.option(
    "--remote-control",
    type=click.Choice(["read", "all"]),
    is_flag=False,
    flag_value="all",
    help="Answer Celery remote control from anyone on the broker: `read` (ping, inspect), or "
    "`all` (no value too: revoke, shutdown...); off by default (BATON_REMOTE_CONTROL).",
)
@click.option("--metrics-port", type=int, default=None, help="Serve Prometheus /metrics here.")
@click.option(
    "--metrics-host",
    default="127.0.0.1",
    show_default=True,
    help="Address for /metrics (0.0.0.0 inside a container).",
)
def worker(
    regions: tuple[str, ...],
    pool: str,
    concurrency: int | None,
    debug: bool,
    loglevel: str,
    includes: tuple[str, ...],
    remote_control: str | None,
    metrics_port: int | None,
    metrics_host: str,
) -> None:
    """Start a Celery worker for the given regions' queues (baton.<region>).

    Its allowed regions default to the ones it serves; BATON_ALLOWED_REGIONS overrides.
    `celery -A workers worker -Q baton.eu-west-1` works too.

    \b
    Examples:
      BATON_ENVELOPE_KEY=... baton worker --region eu-west-1 --region eu-central-1
      baton worker --region ap-southeast-2 --pool threads --concurrency 50 --debug
      baton worker --region eu-west-1 --pool gevent --concurrency 1000
      baton worker --region us-east-1 --metrics-port 9100 --remote-control read
      baton worker --region eu-west-1 --include myapp.tasks --include myapp.agents
    """
    with explained():
        from baton.worker import start_worker

        start_worker(
            regions=regions,
            pool=pool,
            concurrency=concurrency,
            debug=debug,
            loglevel=loglevel,
            includes=includes,
            remote_control=remote_control,
            metrics_port=metrics_port,
            metrics_host=metrics_host,
        )


@main.command()
@click.option("--region", help="Bedrock region; same precedence as `baton run`.")
@click.option("--model", help="Model alias or ID; same precedence as `baton run`.")
@click.option("--endpoint", help="Endpoint URL; beats AWS_BEDROCK_ENDPOINT and the others.")
def doctor(region: str | None, model: str | None, endpoint: str | None) -> None:
    """Make one tiny Converse call with the captured config and explain the outcome.

    It prints where each setting came from, the resolved envelope (no secrets), and a diagnosis:
    for a 403 the identity, the resource, the region and the missing IAM statement; for a 400 the
    prefix that fits the region; for a connection error the endpoint, DNS and proxy hints.
    Exit code 0 only when the call succeeded.

    \b
    Examples:
      AWS_REGION=eu-west-1 baton doctor
      baton doctor --region ap-southeast-2 --model haiku --endpoint http://127.0.0.1:8750
    """
    with explained():
        from baton.doctor import run_doctor

        sys.exit(run_doctor(region=region, model=model, endpoint=endpoint, console=console()))


@main.command("iam-policy")
@click.option("--region", required=True, help="The source region workers call.")
@click.option("--model", required=True, help="Model alias or ID, resolved for the region.")
@click.option(
    "--cross-region/--no-cross-region",
    default=None,
    help="Allow a geography profile (default: when the model needs one).",
)
@click.option("--account", default="*", show_default=True, help="Account ID for profile ARNs.")
@click.option(
    "--deny-outside-geography",
    is_flag=True,
    help="Add an explicit Deny for every region outside the profile's geography.",
)
def iam_policy(
    region: str, model: str, cross_region: bool | None, account: str, deny_outside_geography: bool
) -> None:
    """Print a least-privilege IAM policy (JSON) for calling MODEL from REGION.

    With cross-region inference: the inference profile in REGION plus the foundation model in
    every destination region of that profile (from discovery, else the shipped table). Without:
    only the foundation model in REGION.

    \b
    Examples:
      baton iam-policy --region eu-west-1 --model sonnet --deny-outside-geography
      baton iam-policy --region ap-southeast-2 --model haiku --account 111122223333
    """
    from baton.iam_policy import render_policy

    with explained():
        click.echo(
            render_policy(
                region=region,
                model=model,
                cross_region=cross_region,
                account=account,
                deny_outside_geography=deny_outside_geography,
            )
        )


@main.command()
@click.option("--region", default="eu-west-1", show_default=True, help="The parent's region.")
@click.option("--model", default=None, help="Model alias (default: the catalogue default).")
def demo(region: str, model: str | None) -> None:
    """Show the bug and the fix with no services: local defaults get 403, inheritance works.

    \b
    Examples:
      baton demo
      baton demo --region ap-southeast-2 --model haiku
    """
    from baton.demo import run_demo

    logging.basicConfig(level=logging.WARNING)
    with explained():
        sys.exit(run_demo(region=region, model=model, console=console()))


main.add_command(dead_letters)
main.add_command(emulator)
