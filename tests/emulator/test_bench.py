"""The load generator and the benchmark script: they run and count correctly (no speed checked)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from emulator.bench import main, signed_converse
from emulator.loadgen import Tally, burst, hammer, hammer_in_processes, response_length


@pytest.mark.parametrize(
    ("buffer", "length"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", 40),
        (b"HTTP/1.1 200 OK\r\ncontent-length:2\r\n\r\nhi", 39),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nh", 0),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n", 0),
        (b"HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1", 27),
    ],
)
def test_response_length_finds_one_complete_response(buffer, length):
    assert response_length(buffer) == length


def test_tallies_add_up_and_give_a_rate():
    total = Tally(8, 2, 2.0) + Tally(5, 0, 2.5)

    assert total == Tally(13, 2, 2.5)
    assert total.rate == 6.0


def _address(emulator) -> tuple[str, int]:
    url = urlsplit(emulator.url)
    return url.hostname or "", url.port or 0


def test_a_signed_request_replayed_by_hammer_is_answered_and_journaled(emulator):
    host, port = _address(emulator)

    tally = hammer(host, port, signed_converse(emulator.url), connections=2, seconds=0.3)

    calls = emulator.calls()
    assert tally.ok > 0
    assert tally.failed == 0
    assert tally.ok <= len(calls) <= tally.ok + 2
    assert {(c.operation, c.status) for c in calls} == {("Converse", 200)}


def test_a_burst_gets_one_answer_per_connection_per_round(emulator):
    host, port = _address(emulator)

    tallies = burst(host, port, signed_converse(emulator.url), connections=5, rounds=2, timeout=10)

    assert [(t.ok, t.failed) for t in tallies] == [(5, 0), (5, 0)]
    assert len(emulator.calls()) == 10


def test_refused_answers_are_counted_as_failed(make_emulator):
    emulator = make_emulator(allowed_regions=())
    host, port = _address(emulator)

    (tally,) = burst(host, port, signed_converse(emulator.url), connections=3, rounds=1, timeout=10)

    assert (tally.ok, tally.failed) == (0, 3)


@pytest.mark.integration  # starts load-generating processes
def test_hammer_in_processes_combines_every_process(emulator):
    host, port = _address(emulator)

    total = hammer_in_processes(
        host, port, signed_converse(emulator.url), processes=2, connections=1, seconds=0.3
    )

    assert total.ok > 0
    assert total.failed == 0
    assert total.ok <= len(emulator.calls()) <= total.ok + 2


@pytest.mark.integration  # starts a load-generating process
def test_the_bench_prints_both_figures(capsys):
    rate_run = ["--seconds", "0.3", "--processes", "1", "--connections", "2"]
    burst_run = ["--concurrency", "4", "--latency", "0.01", "--rounds", "1"]

    status = main([*rate_run, *burst_run])

    out = capsys.readouterr().out
    assert status == 0
    assert "converse, zero latency: " in out
    assert ", 0 failed in" in out
    assert "burst 1: 4 of 4 concurrent clients answered (0 failed)" in out


def test_the_bench_refuses_a_run_longer_than_its_bound():
    with pytest.raises(SystemExit, match="--seconds must be"):
        main(["--seconds", "600"])
