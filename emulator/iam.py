"""The subset of the IAM policy language the emulator evaluates, the way AWS evaluates it.

A policy file is what a platform team really deploys, so the emulator reads the same JSON:
``Statement`` (one object or a list) of ``Effect`` Allow or Deny, ``Action`` and ``Resource``
(a string or a list, with ``*`` and ``?`` wildcards), and an optional ``Condition`` using
``StringEquals``, ``StringNotEquals``, ``StringLike`` or ``StringNotLike`` (each also with an
``IfExists`` suffix) on ``aws:RequestedRegion`` and ``bedrock:InferenceProfileArn``. Evaluation
follows AWS: an explicit Deny wins, otherwise any Allow allows, otherwise the request is denied.

Anything outside that subset (``NotAction``, ``Principal``, another condition key) is refused
when the file is loaded. Silently ignoring it would make the emulator allow what AWS denies.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.errors import ConfigurationError

#: The condition keys the emulator can supply, lower-cased as IAM compares them.
CONDITION_KEYS = frozenset({"aws:requestedregion", "bedrock:inferenceprofilearn"})
_OPERATORS = frozenset({"StringEquals", "StringNotEquals", "StringLike", "StringNotLike"})
_STATEMENT_KEYS = frozenset({"Sid", "Effect", "Action", "Resource", "Condition"})


class Decision(enum.Enum):
    """The outcome of evaluating a policy for one action on one resource."""

    ALLOW = "allow"
    EXPLICIT_DENY = "explicit deny"
    IMPLICIT_DENY = "implicit deny"


def wildcard(pattern: str, *, ignore_case: bool = False) -> re.Pattern[str]:
    """Compile an IAM pattern: ``*`` matches any run of characters (``:`` too), ``?`` one."""
    body = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.compile(body, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


@dataclass(frozen=True)
class Condition:
    """One ``operator: {key: values}`` test; ``values`` match if any one of them does."""

    operator: str
    key: str
    values: tuple[str, ...]

    def holds(self, context: Mapping[str, str]) -> bool:
        """Tell whether the condition holds for the request's context keys (lower-cased)."""
        base = self.operator.removesuffix("IfExists")
        actual = context.get(self.key)
        if actual is None:
            return self.operator.endswith("IfExists") or "Not" in base
        if base.endswith("Like"):
            matched = any(wildcard(value).fullmatch(actual) for value in self.values)
        else:
            matched = actual in self.values
        return not matched if "Not" in base else matched


@dataclass(frozen=True)
class Statement:
    """One statement: its effect, what it covers and when it applies."""

    effect: str
    actions: tuple[re.Pattern[str], ...]
    resources: tuple[re.Pattern[str], ...]
    conditions: tuple[Condition, ...] = ()

    def applies(self, action: str, resource: str, context: Mapping[str, str]) -> bool:
        """Tell whether this statement covers ``action`` on ``resource`` in ``context``."""
        return (
            any(pattern.fullmatch(action) for pattern in self.actions)
            and any(pattern.fullmatch(resource) for pattern in self.resources)
            and all(condition.holds(context) for condition in self.conditions)
        )


@dataclass(frozen=True)
class PolicyDocument:
    """An identity-based policy: statements evaluated together, Deny first."""

    statements: tuple[Statement, ...] = ()

    @classmethod
    def from_json(cls, document: object, *, source: str = "the policy") -> PolicyDocument:
        """Parse a policy from its JSON value.

        Raises:
            ConfigurationError: the document is not in the subset; the message says where.
        """
        if not isinstance(document, Mapping) or "Statement" not in document:
            raise ConfigurationError(f"{source} must be a JSON object with a Statement")
        raw = document["Statement"]
        items = [raw] if isinstance(raw, Mapping) else raw
        if not isinstance(items, list):
            raise ConfigurationError(f"{source}: Statement must be an object or a list")
        return cls(
            tuple(_statement(item, f"{source}, statement {i}") for i, item in enumerate(items))
        )

    @classmethod
    def load(cls, path: str | Path) -> PolicyDocument:
        """Read and parse a policy file.

        Raises:
            ConfigurationError: the file cannot be read, is not JSON, or is not in the subset.
        """
        try:
            document = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"cannot read policy file {path}: {exc}") from exc
        return cls.from_json(document, source=f"policy file {path}")

    def __add__(self, other: PolicyDocument) -> PolicyDocument:
        """Return both policies' statements together, as IAM unions attached policies."""
        return PolicyDocument(self.statements + other.statements)

    def evaluate(self, action: str, resource: str, context: Mapping[str, str]) -> Decision:
        """Decide ``action`` on ``resource``; ``context`` maps lower-cased keys to values."""
        allowed = False
        for statement in self.statements:
            if statement.applies(action, resource, context):
                if statement.effect == "Deny":
                    return Decision.EXPLICIT_DENY
                allowed = True
        return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY


def _statement(item: object, where: str) -> Statement:
    if not isinstance(item, Mapping):
        raise ConfigurationError(f"{where} must be a JSON object")
    unknown = sorted(set(item) - _STATEMENT_KEYS)
    if unknown:
        raise ConfigurationError(
            f"{where}: {', '.join(unknown)} is not supported by the emulator "
            f"(supported: {', '.join(sorted(_STATEMENT_KEYS))})"
        )
    effect = item.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise ConfigurationError(f"{where}: Effect must be Allow or Deny, not {effect!r}")
    actions = _strings(item.get("Action"), f"{where}: Action")
    resources = _strings(item.get("Resource"), f"{where}: Resource")
    return Statement(
        effect=effect,
        actions=tuple(wildcard(action, ignore_case=True) for action in actions),
        resources=tuple(wildcard(resource) for resource in resources),
        conditions=_conditions(item.get("Condition", {}), where),
    )


def _conditions(raw: object, where: str) -> tuple[Condition, ...]:
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"{where}: Condition must be a JSON object")
    conditions = []
    for operator, tests in raw.items():
        if operator.removesuffix("IfExists") not in _OPERATORS or not isinstance(tests, Mapping):
            raise ConfigurationError(
                f"{where}: condition operator {operator!r} is not supported (supported: "
                f"{', '.join(sorted(_OPERATORS))}, each optionally ...IfExists)"
            )
        for key, values in tests.items():
            if key.lower() not in CONDITION_KEYS:
                raise ConfigurationError(
                    f"{where}: condition key {key!r} is not supported (supported: "
                    "aws:RequestedRegion, bedrock:InferenceProfileArn)"
                )
            found = _strings(values, f"{where}: {operator} {key}")
            conditions.append(Condition(operator, key.lower(), found))
    return tuple(conditions)


def _strings(value: Any, where: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
        raise ConfigurationError(f"{where} must be a string or a non-empty list of strings")
    return tuple(items)
