"""The AWS event-stream binary framing (``application/vnd.amazon.eventstream``).

Bedrock's streaming operations answer with a sequence of these messages, and botocore (and the
anthropic SDK, which reuses botocore's parser) refuse anything that is not framed exactly so::

    [total length: u32][headers length: u32][prelude CRC32: u32]
    [headers: (name length: u8, name, type 7 = string, value length: u16, value)*]
    [payload][message CRC32 of every byte before it: u32]

All integers are big-endian. Only string headers are written, which is all Bedrock sends.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Sequence

CONTENT_TYPE = "application/vnd.amazon.eventstream"
#: The header value type code for a UTF-8 string.
_STRING = 7
_PRELUDE = struct.Struct(">II")
_CRC = struct.Struct(">I")


def encode_headers(headers: Sequence[tuple[str, str]]) -> bytes:
    """Encode ``(name, value)`` pairs as string-typed event-stream headers, in order."""
    parts = []
    for name, value in headers:
        raw_name, raw_value = name.encode("utf-8"), value.encode("utf-8")
        parts.append(
            struct.pack(f">B{len(raw_name)}sBH", len(raw_name), raw_name, _STRING, len(raw_value))
            + raw_value
        )
    return b"".join(parts)


def encode_message(headers: Sequence[tuple[str, str]], payload: bytes) -> bytes:
    """Frame one message: prelude and its CRC, headers, payload, then the message CRC."""
    raw_headers = encode_headers(headers)
    total = _PRELUDE.size + _CRC.size + len(raw_headers) + len(payload) + _CRC.size
    prelude = _PRELUDE.pack(total, len(raw_headers))
    message = prelude + _CRC.pack(zlib.crc32(prelude)) + raw_headers + payload
    return message + _CRC.pack(zlib.crc32(message))


def event(event_type: str, payload: object) -> bytes:
    """Frame one JSON event, with the three headers botocore dispatches on."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    headers = (
        (":event-type", event_type),
        (":content-type", "application/json"),
        (":message-type", "event"),
    )
    return encode_message(headers, body)
