"""docker-compose.yml and ops/k8s against their published schemas (tests/ops/validators.py).

Each validator is also handed broken copies of the real documents, each with one mistake of the
kind people make (a misspelt field, a number where a string belongs, a missing required field, a
removed API version), and must report it where it is: a check that passed everything would fail
here.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import pytest

from tests.ops.conftest import Manifest
from tests.ops.validators import (
    Violation,
    compose_violations,
    kubernetes_versions,
    manifest_violations,
)

#: Stands for "remove this key" in a breakage.
DELETE = object()


def broken(document: dict[str, Any], keys: Sequence[str | int], value: Any) -> dict[str, Any]:
    """Return a copy of ``document`` with the value at ``keys`` set to ``value`` (or removed)."""
    copied = copy.deepcopy(document)
    parent = copied
    for key in keys[:-1]:
        parent = parent[key]
    if value is DELETE:
        del parent[keys[-1]]
    else:
        parent[keys[-1]] = value
    return copied


def reports(violations: list[Violation], path: str, fragment: str) -> bool:
    return any(v.path == path and fragment in v.message for v in violations)


def manifest(manifests: list[Manifest], file: str, kind: str) -> dict[str, Any]:
    (found,) = [m.doc for m in manifests if m.file == file and m.kind == kind]
    return found


def test_the_compose_file_matches_the_compose_specification(compose):
    assert [str(v) for v in compose_violations(compose)] == []


@pytest.mark.parametrize("version", kubernetes_versions())
def test_every_manifest_matches_its_api_schema(manifests, version):
    found = {
        f"{m.file}: {m.kind} {m.name}": [
            str(v) for v in manifest_violations(m.doc, kubernetes_version=version)
        ]
        for m in manifests
    }
    assert {name: violations for name, violations in found.items() if violations} == {}


@pytest.mark.parametrize(
    ("keys", "value", "path", "fragment"),
    [
        pytest.param(
            ("services", "redis", "stop_grace_period"),
            90,
            "services.redis.stop_grace_period",
            "is not of type 'string'",
            id="a duration written as a number",
        ),
        pytest.param(
            ("services", "redis", "stop_grace_perod"),
            "90s",
            "services.redis",
            "'stop_grace_perod'",
            id="a misspelt service field",
        ),
        pytest.param(
            ("services", "flower", "depends_on", "redis", "condition"),
            "healthy",
            "services.flower.depends_on",
            "is not valid under any of the given schemas",
            id="an unknown depends_on condition",
        ),
        pytest.param(
            ("servics",), {}, "", "'servics' does not match", id="a misspelt top-level key"
        ),
    ],
)
def test_the_compose_validator_reports_a_broken_compose_file(compose, keys, value, path, fragment):
    violations = compose_violations(broken(compose, keys, value))
    assert reports(violations, path, fragment), [str(v) for v in violations]


@pytest.mark.parametrize(
    ("file", "kind", "keys", "value", "path", "fragment"),
    [
        pytest.param(
            "worker-eu.yaml",
            "Deployment",
            ("spec", "template", "spec", "containers", 0, "resource"),
            {"limits": {"memory": "1Gi"}},
            "spec.template.spec.containers.0",
            "'resource' was unexpected",
            id="Deployment: a misspelt container field",
        ),
        pytest.param(
            "worker-eu.yaml",
            "Deployment",
            ("spec", "template", "spec", "terminationGracePeriodSeconds"),
            "90",
            "spec.template.spec.terminationGracePeriodSeconds",
            "is not of type 'integer'",
            id="Deployment: a number written as a string",
        ),
        pytest.param(
            "worker-eu.yaml",
            "Deployment",
            ("spec", "selector"),
            DELETE,
            "spec",
            "'selector' is a required property",
            id="Deployment: no selector",
        ),
        pytest.param(
            "worker-eu.yaml",
            "PodDisruptionBudget",
            ("apiVersion",),
            "policy/v1beta1",
            "",
            "Couldn't find schema for kind PodDisruptionBudget",
            id="PodDisruptionBudget: an API version Kubernetes removed",
        ),
        pytest.param(
            "metrics-service.yaml",
            "Service",
            ("spec", "ports", 0, "port"),
            "9100",
            "spec.ports.0.port",
            "is not of type 'integer'",
            id="Service: a port written as a string",
        ),
        pytest.param(
            "worker-eu.yaml",
            "ScaledObject",
            ("spec", "triggers", 0, "metadata", "listLength"),
            32,
            "spec.triggers.0.metadata.listLength",
            "32 is not of type 'string'",
            id="ScaledObject: an unquoted number in trigger metadata",
        ),
        pytest.param(
            "worker-eu.yaml",
            "ScaledObject",
            ("spec", "minReplicas"),
            2,
            "spec",
            "'minReplicas' was unexpected",
            id="ScaledObject: the HPA's field name",
        ),
        pytest.param(
            "worker-eu.yaml",
            "ScaledObject",
            ("spec", "scaleTargetRef", "name"),
            DELETE,
            "spec.scaleTargetRef",
            "'name' is a required property",
            id="ScaledObject: a target without a name",
        ),
        pytest.param(
            "worker-eu.yaml",
            "ScaledObject",
            ("apiVersion",),
            "keda.sh/v1",
            "",
            "Couldn't find schema for kind ScaledObject",
            id="ScaledObject: a version KEDA does not serve",
        ),
        pytest.param(
            "keda-trigger-auth.yaml",
            "TriggerAuthentication",
            ("spec", "secretTargetRef", 0, "secretName"),
            "baton",
            "spec.secretTargetRef.0",
            "'secretName' was unexpected",
            id="TriggerAuthentication: a misspelt Secret reference",
        ),
    ],
)
def test_the_kubernetes_validator_reports_a_broken_manifest(
    manifests, file, kind, keys, value, path, fragment
):
    document = broken(manifest(manifests, file, kind), keys, value)
    violations = manifest_violations(document, kubernetes_version=kubernetes_versions()[-1])
    assert reports(violations, path, fragment), [str(v) for v in violations]
