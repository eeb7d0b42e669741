"""The HTTP transport: keep-alive, bodies, refusals, binding, and the in-process runner."""

from __future__ import annotations

import asyncio
import http.client
from urllib.parse import urlsplit

import pytest

from emulator import Emulator, StartupError
from emulator.admin import CALLS_PATH
from emulator.server import HttpServer, Request, Response

EU_PROFILE = "eu.anthropic.claude-sonnet-4-20250514-v1:0"


def _echo(request: Request) -> Response:
    if request.path == "/boom":
        raise RuntimeError("handler bug")
    summary = f"{request.method} {request.path} ?{request.query} {request.headers['X-Test']}"
    return Response(200, summary.encode() + b" " + request.body, (("X-Seen", "yes"),))


async def _exchange(raw: bytes, *, handler=_echo) -> bytes:
    """Start an HttpServer on a free loopback port, send ``raw``, return all bytes answered."""
    server = HttpServer(handler, host="127.0.0.1", port=0)
    await server.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(raw)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), timeout=5)
        writer.close()
        await writer.wait_closed()
        return answer
    finally:
        await server.close()


def test_a_request_is_parsed_into_method_raw_path_query_headers_and_body():
    raw = (
        b"POST /model/a%3Ab/converse?x=1 HTTP/1.1\r\nHost: h\r\nx-test: Case\r\n"
        b"Content-Length: 4\r\nConnection: close\r\n\r\nbody"
    )

    answer = asyncio.run(_exchange(raw))

    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"X-Seen: yes\r\n" in answer
    assert b"Connection: close\r\n" in answer
    assert answer.endswith(b"POST /model/a%3Ab/converse ?x=1 Case body")


def test_expect_100_continue_is_answered_before_the_body():
    raw = (
        b"POST /p HTTP/1.1\r\nX-Test: t\r\nExpect: 100-continue\r\nContent-Length: 2\r\n"
        b"Connection: close\r\n\r\nhi"
    )

    answer = asyncio.run(_exchange(raw))

    assert answer.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n")


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GARBAGE\r\n\r\n", b"400"),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", b"411"),
        (b"POST / HTTP/1.1\r\nContent-Length: nope\r\n\r\n", b"400"),
        (b"GET / HTTP/1.1\r\nbad header line\r\n\r\n", b"400"),
    ],
)
def test_requests_the_server_cannot_read_are_refused_and_closed(raw, status):
    answer = asyncio.run(_exchange(raw))

    assert answer.split(b" ")[1] == status
    assert b"Connection: close" in answer


def test_a_handler_that_raises_gives_a_500_not_a_dead_connection():
    answer = asyncio.run(_exchange(b"GET /boom HTTP/1.1\r\nConnection: close\r\n\r\n"))

    assert answer.startswith(b"HTTP/1.1 500 ")


def test_the_server_binds_only_the_host_it_is_given():
    async def bound() -> list[tuple[str, int]]:
        server = HttpServer(_echo, host="127.0.0.1", port=0)
        await server.start()
        try:
            return server.addresses
        finally:
            await server.close()

    addresses = asyncio.run(bound())

    assert [host for host, _ in addresses] == ["127.0.0.1"]


def test_one_connection_serves_many_requests_with_keep_alive(emulator):
    url = urlsplit(emulator.url)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=5)
    try:
        connection.request("GET", CALLS_PATH)
        first = connection.getresponse()
        first.read()
        sock = connection.sock
        connection.request("GET", CALLS_PATH)
        second = connection.getresponse()
        second.read()
        assert first.status == second.status == 200
        assert first.getheader("Connection") == "keep-alive"
        assert connection.sock is sock
    finally:
        connection.close()


def test_a_path_that_names_no_operation_is_unknown(emulator, wire):
    body = b"{}"

    response = wire.send(
        emulator,
        "POST",
        "/nothing/here",
        body=body,
        headers=wire.sign(emulator, "/nothing/here", body),
    )

    assert response.status == 404
    assert response.headers["x-amzn-ErrorType"] == "UnknownOperationException"


def test_count_tokens_is_named_as_not_served(emulator, wire):
    path = wire.model_path(EU_PROFILE, "count-tokens")
    body = wire.converse_body()

    response = wire.send(emulator, "POST", path, body=body, headers=wire.sign(emulator, path, body))

    assert response.status == 404
    assert response.json()["message"].startswith("CountTokens is not served")
    assert emulator.calls()[0].operation == "CountTokens"


def test_the_emulator_works_as_a_context_manager_and_stops_cleanly():
    with Emulator(allowed_regions={"eu-west-1"}) as emulator:
        url = emulator.url
        assert url.startswith("http://127.0.0.1:")
        assert emulator.port == int(url.rsplit(":", 1)[1])

    with pytest.raises(RuntimeError):
        _ = emulator.url
    emulator.stop()


def test_an_emulator_can_be_started_again_after_it_stopped(make_emulator):
    emulator = make_emulator()
    emulator.stop()

    emulator.start()

    assert emulator.url.startswith("http://127.0.0.1:")


def test_a_port_already_taken_is_a_startup_error(emulator):
    with pytest.raises(StartupError, match="could not listen"):
        Emulator(port=emulator.port).start()


def _shaped(request: Request) -> Response:
    """Answer by path: a streamed body, a dropped connection, or a long delay."""
    if request.path == "/chunks":
        return Response(200, headers=(("X-Kind", "stream"),), chunks=(b"ab", b"", b"cde"))
    if request.path == "/drop":
        return Response(0, drop=True)
    if request.path == "/slow":
        return Response(200, b"slow", delay=60.0)
    return Response(200, b"fast")


def test_a_chunked_response_is_sent_with_transfer_encoding_and_a_last_chunk():
    answer = asyncio.run(
        _exchange(b"GET /chunks HTTP/1.1\r\nConnection: close\r\n\r\n", handler=_shaped)
    )

    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head
    assert b"Content-Length" not in head
    assert body == b"2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n"


def test_a_dropped_response_closes_the_connection_without_a_byte():
    answer = asyncio.run(_exchange(b"GET /drop HTTP/1.1\r\n\r\n", handler=_shaped))

    assert answer == b""


def test_a_delayed_answer_does_not_hold_up_another_connection():
    async def scenario() -> tuple[bytes, bytes]:
        server = HttpServer(_shaped, host="127.0.0.1", port=0)
        await server.start()
        slow_reader, slow_writer = await asyncio.open_connection("127.0.0.1", server.port)
        fast_reader, fast_writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            slow_writer.write(b"GET /slow HTTP/1.1\r\n\r\n")
            await slow_writer.drain()
            fast_writer.write(b"GET /fast HTTP/1.1\r\nConnection: close\r\n\r\n")
            fast = await asyncio.wait_for(fast_reader.read(), timeout=10)
        finally:
            await server.close()
        slow = await asyncio.wait_for(slow_reader.read(), timeout=10)
        for writer in (slow_writer, fast_writer):
            writer.close()
            await writer.wait_closed()
        return fast, slow

    fast, slow = asyncio.run(scenario())

    assert fast.endswith(b"fast")
    assert slow == b""


def test_keep_alive_survives_a_chunked_response():
    async def scenario() -> bytes:
        server = HttpServer(_shaped, host="127.0.0.1", port=0)
        await server.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(
                b"GET /chunks HTTP/1.1\r\n\r\nGET /fast HTTP/1.1\r\nConnection: close\r\n\r\n"
            )
            answer = await asyncio.wait_for(reader.read(), timeout=10)
            writer.close()
            await writer.wait_closed()
            return answer
        finally:
            await server.close()

    answer = asyncio.run(scenario())

    assert answer.count(b"HTTP/1.1 200 OK") == 2
    assert answer.endswith(b"fast")
