"""Measure the emulator: zero-latency Converse throughput, and concurrency under latency.

Usage::

    python -m emulator.bench [--seconds 5] [--processes 2] [--connections 16]
                             [--concurrency 200] [--latency 0.2] [--rounds 3]

It starts ``python -m emulator`` on a free loopback port, signs one Converse request with
botocore (as boto3 would), checks that it succeeds, then:

1. replays it over ``--connections`` keep-alive sockets in each of ``--processes`` processes for
   ``--seconds`` and prints requests per second;
2. sets ``--latency`` through ``POST /_baton/faults`` (no restart), opens ``--concurrency``
   keep-alive connections, and in each of ``--rounds`` rounds sends one request on every one of
   them at once and prints how long the last answer took. Served concurrently, a round takes
   about the latency; serialised, it would take ``concurrency * latency``.

Everything it starts is stopped by pid, and the whole run is bounded (well under a minute with the
defaults). The figures go to stdout; nothing is asserted, since speed depends on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Sequence
from urllib.parse import quote, urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from emulator import READY_PREFIX
from emulator.admin import FAULTS_PATH
from emulator.credentials import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY
from emulator.loadgen import burst, hammer_in_processes

REGION = "eu-west-1"
MODEL_ID = "eu.anthropic.claude-sonnet-4-20250514-v1:0"
#: Long enough for a Python interpreter to start on a loaded CI machine.
READY_TIMEOUT_SECONDS = 20.0
#: The longest measurement accepted, which keeps a run inside the minute a signature is fresh for.
MAX_SECONDS = 20.0


def signed_converse(url: str) -> bytes:
    """Return the raw bytes of one SigV4-signed Converse request, signed by botocore."""
    path = f"/model/{quote(MODEL_ID, safe='')}/converse"
    body = json.dumps({"messages": [{"role": "user", "content": [{"text": "benchmark"}]}]})
    request = AWSRequest(
        method="POST", url=url + path, data=body, headers={"Content-Type": "application/json"}
    )
    credentials = Credentials(TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY)
    SigV4Auth(credentials, "bedrock", REGION).add_auth(request)
    headers = {"Host": urlsplit(url).netloc, **dict(request.headers.items())}
    headers["Content-Length"] = str(len(body))
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"POST {path} HTTP/1.1\r\n{head}\r\n{body}".encode()


def _start_emulator() -> tuple[subprocess.Popen[str], str]:
    """Start ``python -m emulator`` and return it with its URL once it says it is ready."""
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--port", "0", "--allow-region", REGION],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        ready = selector.select(READY_TIMEOUT_SECONDS)
    line = process.stdout.readline() if ready else ""
    if not line.startswith(f"{READY_PREFIX} "):
        _stop(process)
        raise SystemExit(f"the emulator did not start within {READY_TIMEOUT_SECONDS} s")
    return process, line.split()[1]


def _stop(process: subprocess.Popen[str]) -> None:
    """Stop the emulator by its pid: SIGTERM, then SIGKILL if it does not exit."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10)
    if process.stdout is not None:
        process.stdout.close()


def _set_latency(url: str, latency: float) -> None:
    data = json.dumps({"latency": latency}).encode()
    request = urllib.request.Request(url + FAULTS_PATH, data=data, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m emulator.bench", description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of the rate run")
    parser.add_argument("--processes", type=int, default=2, help="load-generating processes")
    parser.add_argument("--connections", type=int, default=16, help="connections per process")
    parser.add_argument("--concurrency", type=int, default=200, help="clients in the burst")
    parser.add_argument("--latency", type=float, default=0.2, help="latency in the burst, s")
    parser.add_argument("--rounds", type=int, default=3, help="bursts to time")
    return parser


def _measure(args: argparse.Namespace, url: str) -> None:
    host, port = urlsplit(url).hostname or "127.0.0.1", urlsplit(url).port or 80
    request = signed_converse(url)
    (check,) = burst(host, port, request, connections=1, rounds=1, timeout=10)
    if check.ok != 1:
        raise SystemExit("the signed Converse request was not answered 200; nothing to measure")
    total = hammer_in_processes(
        host,
        port,
        request,
        processes=args.processes,
        connections=args.connections,
        seconds=args.seconds,
    )
    print(
        f"converse, zero latency: {total.rate:,.0f} requests/s "
        f"({total.ok:,} ok, {total.failed:,} failed in {total.seconds:.1f} s; "
        f"{args.processes} process(es) x {args.connections} connections)"
    )
    _set_latency(url, args.latency)
    timeout = args.latency * args.concurrency + 10
    for index, tally in enumerate(
        burst(
            host, port, request, connections=args.concurrency, rounds=args.rounds, timeout=timeout
        )
    ):
        print(
            f"burst {index + 1}: {tally.ok} of {args.concurrency} concurrent clients answered "
            f"({tally.failed} failed) in {tally.seconds:.3f} s with {args.latency} s latency"
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Run both measurements against a fresh emulator process and print the figures."""
    args = _parser().parse_args(argv)
    if not 0 < args.seconds <= MAX_SECONDS:
        raise SystemExit(f"--seconds must be above 0 and at most {MAX_SECONDS}")
    process, url = _start_emulator()
    try:
        _measure(args, url)
    finally:
        _stop(process)
    return 0


if __name__ == "__main__":
    sys.exit(main())
