"""Parsed deployment files, loaded once per test session."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from tests.ops.fleet import COMPOSE_FILE, K8S_DIR, KUSTOMIZATION


@dataclass(frozen=True)
class Manifest:
    """One YAML document of ops/k8s and the file it came from."""

    file: str
    doc: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.doc.get("kind") or "")

    @property
    def name(self) -> str:
        return str((self.doc.get("metadata") or {}).get("name") or "")


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(loaded, dict), "docker-compose.yml is not a mapping"
    return loaded


@pytest.fixture(scope="session")
def manifests() -> list[Manifest]:
    found = []
    for path in sorted(K8S_DIR.glob("*.yaml")):
        if path.name == KUSTOMIZATION:
            continue  # kustomize's own configuration, not a Kubernetes object
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None:
                assert isinstance(doc, dict), f"{path.name}: a document is not a mapping"
                found.append(Manifest(file=path.name, doc=doc))
    assert found, f"no manifests under {K8S_DIR}"
    return found
