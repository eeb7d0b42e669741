"""What the deployment files must agree on, and small readers for them.

The fleet below is the specification from issue 6. Compose, Kubernetes and IAM are each checked
against it rather than against one another, so that one wrong file cannot make the others look
right.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "ops" / "Dockerfile"
K8S_DIR = ROOT / "ops" / "k8s"
IAM_DIR = ROOT / "ops" / "iam"
SECRET_TEMPLATE = "secret.example.yaml"
KUSTOMIZATION = "kustomization.yaml"

#: Region groups and the regions whose ``baton.<region>`` queues each group's workers consume.
FLEET: dict[str, tuple[str, ...]] = {
    "eu": ("eu-west-1", "eu-central-1"),
    "apac": ("ap-southeast-2", "ap-northeast-1"),
    "us": ("us-east-1", "us-west-2"),
}
FLEET_REGIONS = frozenset(region for regions in FLEET.values() for region in regions)

#: The port ``baton worker --metrics-port`` serves on, in compose and in Kubernetes.
METRICS_PORT = 9100

#: Environment variable names that hold credentials and must never carry a literal value.
CREDENTIAL_NAME = re.compile(r"KEY|SECRET|TOKEN|PASSWORD")

#: A compose interpolation that makes compose refuse to start when the variable is unset.
REQUIRED_INTERPOLATION = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?\?[^}]*\}")

#: A URL with a password in it: ``scheme://user:password@host``.
URL_WITH_CREDENTIALS = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s@]*:[^/\s@]+@")

#: The emulator's public test secret: test data, but it must still arrive from the environment.
EMULATOR_TEST_SECRET = "baton-test-secret-access-key"


def queue(region: str) -> str:
    """Return the Celery queue (and Redis list) name of ``region``."""
    return f"baton.{region}"


def option_values(argv: Iterable[str], option: str) -> list[str]:
    """Return every value given to ``option`` in ``argv`` (``--opt v`` and ``--opt=v``)."""
    args = list(argv)
    values = [arg.split("=", 1)[1] for arg in args if arg.startswith(f"{option}=")]
    values += [args[i + 1] for i, arg in enumerate(args[:-1]) if arg == option]
    return values


def is_worker_command(argv: Iterable[str]) -> bool:
    """Tell whether ``argv`` starts a Baton worker."""
    return list(argv)[:2] == ["baton", "worker"]


def csv_set(value: str) -> set[str]:
    """Split a comma-separated setting such as BATON_ALLOWED_REGIONS."""
    return {part.strip() for part in value.split(",") if part.strip()}


def strings_in(node: Any) -> Iterator[str]:
    """Yield every string anywhere in a parsed YAML or JSON document."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, Mapping):
        for key, value in node.items():
            yield from strings_in(key)
            yield from strings_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings_in(item)
