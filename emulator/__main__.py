"""Run the Bedrock emulator as a process.

Usage::

    python -m emulator [--host 127.0.0.1] [--port 0] [--allow-region R ...] [--policy FILE]
                       [--app-profile NAME=MODEL_ID ...] [--latency S] [--jitter S]
                       [--throttle-rate F] [--unavailable-rate F] [--model-error-rate F]
                       [--not-ready-rate F] [--drop-rate F] [--seed N]
                       [--deny-assume ROLE_ARN ...] [--requests-per-minute N]
                       [--tokens-per-minute N] [--quota-burst S] [--max-output-tokens N]

Once listening it prints exactly one line to stdout, ``BATON_EMULATOR_READY http://HOST:PORT``,
and flushes it, so a test fixture can wait for that line and read the port from it. SIGTERM or
SIGINT stops it cleanly. With neither ``--allow-region`` nor ``--policy`` every Bedrock call is
refused with a 403, which is what an unconfigured region-scoped IAM policy does; stderr says so.
An option that cannot be used (a malformed policy file, a rate out of range) exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from emulator import READY_PREFIX
from emulator.errors import ConfigurationError, StartupError
from emulator.quotas import DEFAULT_MAX_OUTPUT_TOKENS
from emulator.runner import DEFAULT_LATENCY, serve
from emulator.server import DEFAULT_HOST, DEFAULT_PORT
from envelope import is_region

#: The fault options, each a float, with the help text saying what it injects.
_FAULT_OPTIONS = (
    ("--latency", "seconds added before every runtime answer"),
    ("--jitter", "up to this many seconds more, drawn uniformly per call"),
    ("--throttle-rate", "share of calls answered 429 ThrottlingException (0 to 1)"),
    ("--unavailable-rate", "share answered 503 ServiceUnavailableException"),
    ("--model-error-rate", "share answered 424 ModelErrorException"),
    ("--not-ready-rate", "share answered 429 ModelNotReadyException"),
    ("--drop-rate", "share whose connection is closed without a response"),
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m emulator",
        description="A local Bedrock endpoint with real SigV4, IAM policies and injected faults.",
    )
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help="address to bind (default: %(default)s)"
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port; 0 picks a free one")
    parser.add_argument(
        "--allow-region",
        dest="allowed_regions",
        action="append",
        default=[],
        metavar="REGION",
        help="a region the IAM policy allows; repeat for several (default: none)",
    )
    parser.add_argument("--policy", metavar="FILE", help="an IAM policy JSON file to enforce too")
    parser.add_argument(
        "--app-profile",
        dest="app_profiles",
        action="append",
        default=[],
        metavar="NAME=MODEL_ID",
        help="declare an application inference profile; repeat for several",
    )
    for flag, text in _FAULT_OPTIONS:
        default = DEFAULT_LATENCY if flag == "--latency" else 0.0
        parser.add_argument(flag, type=float, default=default, metavar="S", help=text)
    parser.add_argument("--seed", type=int, help="make the fault draws repeatable")
    parser.add_argument(
        "--deny-assume",
        dest="deny_assume",
        action="append",
        default=[],
        metavar="ROLE_ARN",
        help="a role STS AssumeRole refuses; every other role of the test account is allowed",
    )
    _quota_options(parser)
    return parser


def _quota_options(parser: argparse.ArgumentParser) -> None:
    quota = parser.add_argument_group(
        "quotas", "per (region, model ID called) key, counted as Bedrock counts them"
    )
    quota.add_argument("--requests-per-minute", type=int, metavar="N", help="requests quota")
    quota.add_argument("--tokens-per-minute", type=int, metavar="N", help="tokens quota")
    quota.add_argument(
        "--quota-burst", type=float, default=1.0, metavar="S", help="seconds of quota at once"
    )
    quota.add_argument(
        "--max-output-tokens",
        type=int,
        default=DEFAULT_MAX_OUTPUT_TOKENS,
        metavar="N",
        help="what a call without maxTokens reserves (default: %(default)s)",
    )


def _announce(url: str) -> None:
    print(f"{READY_PREFIX} {url}", flush=True)


def _app_profiles(parser: argparse.ArgumentParser, pairs: list[str]) -> dict[str, str]:
    profiles = {}
    for pair in pairs:
        name, equals, model_id = pair.partition("=")
        if not equals or not name or not model_id:
            parser.error(f"--app-profile {pair!r}: expected NAME=MODEL_ID")
        profiles[name] = model_id
    return profiles


def _explain(args: argparse.Namespace) -> None:
    if args.allowed_regions:
        print(f"emulator: allowing {', '.join(args.allowed_regions)}", file=sys.stderr)
    if args.policy:
        print(f"emulator: enforcing the policy in {args.policy}", file=sys.stderr)
    if not args.allowed_regions and not args.policy:
        print(
            "emulator: no --allow-region given, so the IAM policy allows no region and every "
            "Bedrock call will get 403 AccessDeniedException",
            file=sys.stderr,
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, serve until signalled, and return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    bad = [region for region in args.allowed_regions if not is_region(region)]
    if bad:
        parser.error(f"not a region name: {', '.join(bad)} (expected something like eu-west-1)")
    faults = {
        flag[2:].replace("-", "_"): getattr(args, flag[2:].replace("-", "_"))
        for flag, _ in _FAULT_OPTIONS
    }
    app_profiles = _app_profiles(parser, args.app_profiles)
    _explain(args)
    try:
        serve(
            host=args.host,
            port=args.port,
            allowed_regions=args.allowed_regions,
            policy=args.policy,
            app_profiles=app_profiles,
            seed=args.seed,
            deny_assume=args.deny_assume,
            requests_per_minute=args.requests_per_minute,
            tokens_per_minute=args.tokens_per_minute,
            quota_burst=args.quota_burst,
            max_output_tokens=args.max_output_tokens,
            on_ready=_announce,
            **faults,
        )
    except ConfigurationError as exc:
        print(f"emulator: {exc}", file=sys.stderr)
        return 2
    except StartupError as exc:
        print(f"emulator: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # a Ctrl-C that arrived before the signal handlers were installed
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
