"""Run the Bedrock emulator as a process.

Usage::

    python -m emulator [--host 127.0.0.1] [--port 0] [--allow-region R ...] [--latency S]

Once listening it prints exactly one line to stdout, ``BATON_EMULATOR_READY http://HOST:PORT``,
and flushes it, so a test fixture can wait for that line and read the port from it. SIGTERM or
SIGINT stops it cleanly. With no ``--allow-region`` every Bedrock call is refused with a 403,
which is what an unconfigured region-scoped IAM policy does; stderr says so.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from emulator import READY_PREFIX
from emulator.errors import StartupError
from emulator.runner import DEFAULT_LATENCY, serve
from emulator.server import DEFAULT_HOST, DEFAULT_PORT
from envelope.regions import is_region


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m emulator",
        description="A local Bedrock-runtime endpoint with real SigV4 and region-scoped IAM.",
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
    parser.add_argument(
        "--latency", type=float, default=DEFAULT_LATENCY, help="seconds added to every answer"
    )
    return parser


def _announce(url: str) -> None:
    print(f"{READY_PREFIX} {url}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, serve until signalled, and return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    bad = [region for region in args.allowed_regions if not is_region(region)]
    if bad:
        parser.error(f"not a region name: {', '.join(bad)} (expected something like eu-west-1)")
    if args.latency < 0:
        parser.error("--latency must be zero or positive")
    if args.allowed_regions:
        print(f"emulator: allowing {', '.join(args.allowed_regions)}", file=sys.stderr)
    else:
        print(
            "emulator: no --allow-region given, so the IAM policy allows no region and every "
            "Bedrock call will get 403 AccessDeniedException",
            file=sys.stderr,
        )
    try:
        serve(
            host=args.host,
            port=args.port,
            allowed_regions=args.allowed_regions,
            latency=args.latency,
            on_ready=_announce,
        )
    except StartupError as exc:
        print(f"emulator: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # a Ctrl-C that arrived before the signal handlers were installed
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
