"""Request bodies read the way Bedrock reads them: strict UTF-8 JSON, one object, real Unicode.

Python's ``json`` is more lenient than Bedrock's parser in ways that used to surface as a 500
from the emulator where Bedrock answers 400: it guesses UTF-16 and UTF-32, decodes UTF-8
surrogate bytes (``surrogatepass``), accepts ``NaN`` and ``Infinity``, and turns an escaped lone
surrogate (``"\\ud800"``) into a ``str`` that cannot be encoded back to UTF-8, so the answer that
echoes it failed. Every body is read here instead, and every refusal is a ValidationError.
"""

from __future__ import annotations

import json
import re
from typing import Any

from emulator.errors import MALFORMED, ValidationError

#: Any UTF-16 surrogate code point. In a ``str`` decoded from strict UTF-8 JSON one can only
#: come from a ``\\uD800``-``\\uDFFF`` escape left unpaired: a pair decodes to one code point.
_SURROGATE = re.compile("[\ud800-\udfff]")
#: An escape that may decode to a surrogate; without one, a strict UTF-8 body cannot hold any,
#: so the walk over the parsed body is skipped (the handler is benchmarked).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def load_object(raw: bytes) -> dict[str, Any]:
    """Return the body as a JSON object, or raise Bedrock's 400 for anything else.

    Raises:
        ValidationError: the body is not UTF-8, not JSON (or nested too deep to read), not an
            object, or holds a lone surrogate; the message says which and where.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        detail = f"body is not valid UTF-8 (byte {exc.start})"
        raise ValidationError(MALFORMED.format(detail=detail)) from None
    try:
        body = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        raise ValidationError(MALFORMED.format(detail="body is not valid JSON")) from None
    if not isinstance(body, dict):
        raise ValidationError(MALFORMED.format(detail="#: expected type: JSONObject"))
    found = find_lone_surrogate(body) if _SURROGATE_ESCAPE.search(text) else None
    if found is not None:
        detail = (
            f"{found}, which is not valid Unicode; send each \\uD800-\\uDBFF escape followed by "
            "a \\uDC00-\\uDFFF one"
        )
        raise ValidationError(MALFORMED.format(detail=detail))
    return body


def find_lone_surrogate(value: object, *, where: str = "#") -> str | None:
    """Say where a string (or a key) of ``value`` holds a lone surrogate, or None if none does.

    The answer is ASCII-safe (``#/messages/0/content/0/text holds U+D800``), so a refusal that
    quotes it can still be encoded as UTF-8. The walk is iterative: a body nested as deep as
    ``json`` could parse cannot overflow it.
    """
    pending: list[tuple[str, object]] = [(where, value)]
    while pending:
        path, item = pending.pop()
        if isinstance(item, dict):
            pending.extend((f"{path}/{key}", child) for key, child in item.items())
            texts: list[str] = list(item)
        elif isinstance(item, list):
            pending.extend((f"{path}/{index}", child) for index, child in enumerate(item))
            continue
        else:
            texts = [item] if isinstance(item, str) else []
        for text in texts:
            found = None if text.isascii() else _SURROGATE.search(text)
            if found is not None:
                pointer = path.encode("utf-8", "backslashreplace").decode("utf-8")
                return f"{pointer} holds the lone surrogate U+{ord(found[0]):04X}"
    return None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
