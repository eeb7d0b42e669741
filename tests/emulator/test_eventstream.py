"""The event-stream framing, checked with botocore's own parser rather than our own reading."""

from __future__ import annotations

import json
import struct
import zlib

import pytest
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer

from emulator.eventstream import encode_headers, encode_message, event


def _parse(data: bytes) -> list:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return list(buffer)


def test_an_event_is_parsed_by_botocore_with_its_headers_and_payload():
    (message,) = _parse(event("messageStart", {"role": "assistant"}))

    assert message.headers == {
        ":event-type": "messageStart",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    assert json.loads(message.payload) == {"role": "assistant"}


def test_the_prelude_carries_the_total_and_headers_lengths_and_its_crc():
    raw_headers = encode_headers([("a", "b")])
    message = encode_message([("a", "b")], b"payload")

    total, headers_length, prelude_crc = struct.unpack(">III", message[:12])

    assert total == len(message) == 12 + len(raw_headers) + len(b"payload") + 4
    assert headers_length == len(raw_headers)
    assert prelude_crc == zlib.crc32(message[:8])
    assert struct.unpack(">I", message[-4:])[0] == zlib.crc32(message[:-4])


def test_a_string_header_is_length_prefixed_and_typed_seven():
    assert encode_headers([(":x", "hé")]) == b"\x02:x\x07\x00\x03h\xc3\xa9"


def test_several_messages_split_anywhere_are_reassembled_in_order():
    data = b"".join(event("contentBlockDelta", {"delta": {"text": str(i)}}) for i in range(3))
    buffer = EventStreamBuffer()
    messages = []
    for offset in range(0, len(data), 7):
        buffer.add_data(data[offset : offset + 7])
        messages.extend(buffer)

    assert [json.loads(m.payload)["delta"]["text"] for m in messages] == ["0", "1", "2"]


def test_a_flipped_payload_byte_fails_botocores_message_checksum():
    message = bytearray(event("messageStop", {"stopReason": "end_turn"}))
    message[-6] ^= 0xFF

    with pytest.raises(ChecksumMismatch):
        _parse(bytes(message))


def test_non_ascii_text_is_sent_as_utf8_not_escaped():
    (message,) = _parse(event("contentBlockDelta", {"delta": {"text": "isn’t"}}))

    assert "isn’t".encode() in message.payload
