"""The package rule of DESIGN.md, enforced: orchestrator -> envelope <- workers.

import-linter reads its contracts from pyproject.toml; this test runs it so a forbidden import
fails the test run, not only the lint step.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold():
    lint_imports = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    if not Path(lint_imports).exists():
        pytest.fail("import-linter is not installed; install the dev extra")
    result = subprocess.run(
        [lint_imports], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


def test_the_wire_contract_imports_only_stdlib_and_pydantic():
    code = (
        "import sys, envelope; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'celery', 'kombu', 'boto3', 'botocore', 'redis', 'orchestrator', 'workers'}); "
        "print(bad)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
