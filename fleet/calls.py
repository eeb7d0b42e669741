"""What a Bedrock runtime request draws on its quota: its key, and the tokens it reserves.

Read from the request as it is sent, so every client is covered alike (Baton's own, a user's
from ``bedrock_session()``, a framework's): the model or profile ID from the path
(``/model/{id}/converse``...), the source region from the SigV4 credential scope it was signed
for, and the reservation from the body, counted as Bedrock counts it: input tokens plus
``maxTokens`` (the model's maximum when unset). Input tokens are estimated at one per
:data:`CHARS_PER_TOKEN` characters of text, on the high side; the governor calibrates that
estimate per key against the input Bedrock counted (:func:`input_tokens` of the response's
``usage``), and the settlement corrects the reservation itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from urllib.parse import unquote

from fleet.tickets import QuotaKey

#: Claude's tokenizer averages 3.5 to 4 characters a token on English; 3 errs towards
#: reserving too much, which only delays a call, never gets it throttled.
CHARS_PER_TOKEN = 3
#: The runtime operations that draw on a model's quota (both planes' other calls do not).
_MODEL_PATH = re.compile(
    r"/model/(?P<id>[^/]+)/(?:converse|converse-stream|invoke|invoke-with-response-stream)$"
)
_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/(?P<region>[a-z0-9-]+)/bedrock/aws4_request")


def quota_key(
    *, path: str, authorization: str | None = None, region: str | None = None
) -> QuotaKey | None:
    """Return the quota a request draws on: its model ID from ``path``, its region from the
    SigV4 ``authorization`` it was signed with, else ``region`` (the signer's, before signing).
    None for a request that draws on no model quota, or names no region."""
    match = _MODEL_PATH.search(path.split("?", 1)[0])
    scope = _SCOPE.search(authorization or "")
    source = scope["region"] if scope is not None else region
    if match is None or not source:
        return None
    return QuotaKey(source, unquote(match["id"]))


def reserved_tokens(body: bytes | str | None, *, max_output_tokens: int) -> int:
    """Return input tokens (estimated) plus the output cap the body asks for, or the model's."""
    estimate, cap = request_tokens(body, max_output_tokens=max_output_tokens)
    return estimate + cap


def request_tokens(body: bytes | str | None, *, max_output_tokens: int) -> tuple[int, int]:
    """Return the body's input tokens (estimated) and its output cap, or the model's."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body or ""
    try:
        document = json.loads(text or "{}")
    except (ValueError, RecursionError):
        return len(text) // CHARS_PER_TOKEN, max_output_tokens
    if not isinstance(document, dict):
        return len(text) // CHARS_PER_TOKEN, max_output_tokens
    config = document.get("inferenceConfig")
    cap = config.get("maxTokens") if isinstance(config, dict) else document.get("max_tokens")
    if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
        cap = max_output_tokens
    return -(-_text_chars(document) // CHARS_PER_TOKEN), cap


def _text_chars(value: object) -> int:
    """Characters of every string value in a JSON document (its keys are not tokens)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list):
        return sum(_text_chars(item) for item in value)
    if isinstance(value, dict):
        return sum(_text_chars(item) for item in value.values())
    return 0


#: The input counts of Converse's and the Messages API's ``usage`` (cache reads and writes are
#: input too).
_INPUT_FIELDS = (
    "inputTokens",
    "cacheReadInputTokens",
    "cacheWriteInputTokens",
    "input_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
)
_OUTPUT_FIELDS = ("outputTokens", "output_tokens")


def used_tokens(usage: Mapping[str, object] | None) -> int | None:
    """Return the tokens a call used from Converse's or the Messages API's ``usage``; None when
    the response carries none (a stream, read by the caller later)."""
    return _count(usage, _INPUT_FIELDS + _OUTPUT_FIELDS)


def input_tokens(usage: Mapping[str, object] | None) -> int | None:
    """Return the input tokens Bedrock counted for a call (input and cache) from its ``usage``;
    None when the response carries none."""
    return _count(usage, _INPUT_FIELDS)


def _count(usage: Mapping[str, object] | None, names: tuple[str, ...]) -> int | None:
    if not isinstance(usage, Mapping):
        return None
    total = 0
    for name in names:
        value = usage.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            total += value
    return total
