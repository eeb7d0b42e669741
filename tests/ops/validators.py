"""The deployment files' published schemas: the Compose specification, the Kubernetes API, KEDA.

No Docker engine or cluster runs here, so these stand in for `docker compose config` and for the
API server's validation of `kubectl apply`. Each validator returns what it finds instead of
raising, so a test can list every violation and a mutation test can name the one it expects.

- Compose: the compose-spec JSON schema that check-jsonschema ships (`vendor.compose-spec`),
  applied to the file as parsed (anchors and merge keys resolved, `${...}` left as written).
- Kubernetes kinds: kubernetes-validate's bundled schemas, strict (unknown fields are errors).
- Custom resources (KEDA's ScaledObject and TriggerAuthentication): the openAPIV3Schema of each
  CustomResourceDefinition in tests/ops/schemas, closed the way strict field validation closes it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml
from check_jsonschema.builtin_schemas import get_builtin_schema

#: CustomResourceDefinitions no package ships; their README says where each came from.
CRD_DIR = Path(__file__).resolve().parent / "schemas"

#: The oldest Kubernetes minor the manifests must apply to: Pod Security admission, whose labels
#: namespace.yaml sets, is GA from 1.25 (and it is the oldest kubernetes-validate ships).
OLDEST_KUBERNETES = "1.25"

#: Keywords whose value is one subschema, or a list of them, in a CRD's OpenAPI v3 schema.
SUBSCHEMA_KEYWORDS = ("items", "additionalProperties", "not")
SUBSCHEMA_LIST_KEYWORDS = ("allOf", "anyOf", "oneOf")


@dataclass(frozen=True)
class Violation:
    """One place where a document breaks its schema."""

    path: str  # dotted, as `spec.triggers.0.metadata`; "" for the document itself
    message: str

    def __str__(self) -> str:
        return f"{self.path or '<document>'}: {self.message}"


def kubernetes_versions() -> tuple[str, ...]:
    """Return the oldest minor the manifests support and the newest one kubernetes-validate ships.

    The newest follows the installed library, so an API version Kubernetes removes fails here on
    the upgrade that brings its schemas, not on a cluster.
    """
    newest = re.sub(r"^(\d+\.\d+).*", r"\1", kubernetes_validate.latest_version())
    return (OLDEST_KUBERNETES, newest)


def compose_violations(document: Mapping[str, Any]) -> list[Violation]:
    """Return where a parsed compose file breaks the Compose specification."""
    return _violations(_compose_validator().iter_errors(document))


def manifest_violations(document: Mapping[str, Any], *, kubernetes_version: str) -> list[Violation]:
    """Return where a Kubernetes object breaks its API schema (kubernetes-validate stops at one).

    A kind with no schema, built in or in tests/ops/schemas, is a violation too: an object that
    nothing checks must not pass as checked.
    """
    custom = _custom_resource_validators().get((document.get("apiVersion"), document.get("kind")))
    if custom is not None:
        return _violations(custom.iter_errors(document))
    try:
        kubernetes_validate.validate(dict(document), kubernetes_version, strict=True)
    except kubernetes_validate.SchemaNotFoundError as exc:
        return [Violation("", f"{exc.message}; add its CustomResourceDefinition to {CRD_DIR}")]
    except kubernetes_validate.ValidationError as exc:
        return [Violation(_dotted(exc.absolute_path), exc.message)]
    return []


def closed(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Return a CRD schema that refuses undeclared fields, as the API server does for `apply`.

    The API server prunes fields a structural schema does not declare, and kubectl's default
    `--validate=strict` turns each into an error. In JSON Schema that is `additionalProperties:
    false` on every object that lists its properties, unless it keeps unknown fields on purpose.
    """
    result = {keyword: _closed_value(keyword, value) for keyword, value in schema.items()}
    keeps_unknown = schema.get("x-kubernetes-preserve-unknown-fields") is True
    if "properties" in schema and "additionalProperties" not in schema and not keeps_unknown:
        result["additionalProperties"] = False
    return result


def _closed_value(keyword: str, value: Any) -> Any:
    if keyword == "properties":
        return {name: closed(subschema) for name, subschema in value.items()}
    if keyword in SUBSCHEMA_KEYWORDS and isinstance(value, Mapping):
        return closed(value)
    if keyword in SUBSCHEMA_LIST_KEYWORDS:
        return [closed(subschema) for subschema in value]
    return value


@functools.cache
def _compose_validator() -> jsonschema.protocols.Validator:
    schema = get_builtin_schema("vendor.compose-spec")
    validator = jsonschema.validators.validator_for(schema)
    validator.check_schema(schema)
    return validator(schema)


@functools.cache
def _custom_resource_validators() -> dict[tuple[str, str], jsonschema.protocols.Validator]:
    """Map (apiVersion, kind) to a validator for each served version of each CRD in CRD_DIR."""
    validators: dict[tuple[str, str], jsonschema.protocols.Validator] = {}
    for path in sorted(CRD_DIR.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        assert crd["kind"] == "CustomResourceDefinition", f"{path.name} is not a CRD"
        spec = crd["spec"]
        for version in spec["versions"]:
            if version.get("served"):
                # OpenAPI v3.0 schemas are JSON Schema draft 4 with extensions jsonschema ignores.
                schema = closed(version["schema"]["openAPIV3Schema"])
                api_version = f"{spec['group']}/{version['name']}"
                validators[api_version, spec["names"]["kind"]] = jsonschema.Draft4Validator(schema)
    return validators


def _violations(errors: Iterable[jsonschema.ValidationError]) -> list[Violation]:
    found = {Violation(_dotted(error.absolute_path), error.message) for error in errors}
    return sorted(found, key=lambda violation: (violation.path, violation.message))


def _dotted(path: Iterable[object]) -> str:
    return ".".join(str(part) for part in path)
