"""The Bedrock quotas an operator knows: requests and tokens per minute, per model, per region.

``BATON_BEDROCK_QUOTAS`` holds a JSON object, or the path of a file that holds one. Each key
names what a quota is keyed by in Bedrock, the model or inference-profile ID called, optionally
behind its source region; ``*`` stands for every model. The most specific entry wins::

    {
      "eu-west-1/eu.anthropic.claude-sonnet-4-20250514-v1:0": {"requests_per_minute": 600},
      "eu.anthropic.claude-sonnet-4-20250514-v1:0": {"tokens_per_minute": 400000},
      "*": {"requests_per_minute": 100, "max_output_tokens": 8192}
    }

An on-demand ID (``anthropic.claude-...``) and a cross-Region profile ID (``eu.anthropic...``)
are separate quotas in Bedrock, and are separate entries here. ``max_output_tokens`` is what a
call that sets no ``maxTokens`` reserves (the model's maximum). A key with no entry is paced by
what the governor learns (:mod:`fleet.governor`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from fleet.errors import QuotaConfigInvalid

#: What a call without ``maxTokens`` reserves when no entry says: Claude Sonnet 4's maximum
#: output, the largest of the Claude models Baton resolves; too much only delays, never throttles.
DEFAULT_MAX_OUTPUT_TOKENS = 64_000
#: The key that stands for every model.
ANY_MODEL = "*"
_FIELDS = ("requests_per_minute", "tokens_per_minute", "max_output_tokens")


@dataclass(frozen=True, slots=True)
class ModelQuota:
    """One entry: what Bedrock allows a key per minute (None: not known, learned instead)."""

    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    max_output_tokens: int = DEFAULT_MAX_OUTPUT_TOKENS


#: The entry of a key nobody configured.
UNKNOWN = ModelQuota()


@dataclass(frozen=True, slots=True)
class QuotaTable:
    """Every configured entry, by ``region/model``, ``model`` or ``*``."""

    entries: Mapping[str, ModelQuota]

    @classmethod
    def parse(cls, value: str | None) -> QuotaTable:
        """Read ``BATON_BEDROCK_QUOTAS``: a JSON object, or a path to a JSON file; empty: none.

        Raises:
            QuotaConfigInvalid: one line saying which entry or field is wrong and how to fix it.
        """
        text = (value or "").strip()
        if not text:
            return cls({})
        if not text.startswith("{"):
            try:
                text = Path(text).read_text(encoding="utf-8")
            except OSError as exc:
                raise QuotaConfigInvalid(
                    f"is neither a JSON object nor a readable file ({exc.strerror}: {text})"
                ) from None
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise QuotaConfigInvalid(f"is not valid JSON ({exc})") from None
        if not isinstance(document, dict):
            raise QuotaConfigInvalid(
                'must be a JSON object such as {"*": {"requests_per_minute": 60}}'
            )
        return cls({str(key): _entry(str(key), entry) for key, entry in document.items()})

    def lookup(self, *, region: str, model_id: str) -> ModelQuota:
        """Return the most specific entry for a call: region/model, then model, then ``*``."""
        for key in (f"{region}/{model_id}", model_id, ANY_MODEL):
            entry = self.entries.get(key)
            if entry is not None:
                return entry
        return UNKNOWN


def _entry(key: str, value: object) -> ModelQuota:
    if not key.strip() or key != key.strip():
        raise QuotaConfigInvalid(f"entry {key!r}: a key is a model ID, REGION/MODEL_ID or *")
    if not isinstance(value, dict):
        raise QuotaConfigInvalid(f"entry {key!r} must be an object of {', '.join(_FIELDS)}")
    unknown = sorted(set(value) - set(_FIELDS))
    if unknown:
        raise QuotaConfigInvalid(
            f"entry {key!r}: unknown field {', '.join(unknown)} (known: {', '.join(_FIELDS)})"
        )
    for name, number in value.items():
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise QuotaConfigInvalid(
                f"entry {key!r}: {name} must be a whole number of at least 1, not {number!r}"
            )
    return ModelQuota(**value)
