"""The package rule, enforced: orchestrator -> fleet -> envelope <- workers (workers -> fleet too).

The wire contract (``envelope``) imports nothing of ours; how messages travel (``fleet``)
imports ``envelope`` at most; the producer (``orchestrator``) and the consumer (``workers``)
never import each other; the emulator imports ``envelope`` at most; only the CLI (``baton``)
imports everything. import-linter reads these contracts from pyproject.toml;
this test runs it so a forbidden import fails the test run, not only the lint step.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PACKAGES = ("envelope", "fleet", "orchestrator", "workers", "emulator", "baton")


def test_import_contracts_hold():
    lint_imports = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    if not Path(lint_imports).exists():
        pytest.fail("import-linter is not installed; install the dev extra")
    result = subprocess.run(
        [lint_imports], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 kept, 0 broken" in result.stdout


def modules_loaded_by_importing(package: str, tops: set[str]) -> list[str]:
    """Import ``package`` in a fresh interpreter; return the loaded modules under ``tops``."""
    code = (
        f"import sys, {package}; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {sorted(tops)!r}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return ast.literal_eval(out.strip())


def test_importing_the_wire_contract_loads_no_broker_aws_or_baton_library():
    broker_and_aws = {"celery", "kombu", "boto3", "botocore", "redis"}
    ours = {"fleet", "orchestrator", "workers", "emulator", "baton"}
    assert modules_loaded_by_importing("envelope", broker_and_aws | ours) == []


def test_importing_the_fleet_loads_no_producer_consumer_emulator_or_cli():
    ours = {"orchestrator", "workers", "emulator", "baton"}
    assert modules_loaded_by_importing("fleet", ours) == []


def cross_package_submodule_imports() -> Iterator[tuple[str, str]]:
    """Yield (file, module) for every import of another package's submodule in the packages."""
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                elif isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                else:
                    continue
                for module in modules:
                    top = module.split(".")[0]
                    if top in PACKAGES and top != package and "." in module:
                        yield str(path.relative_to(ROOT)), module


def test_packages_import_each_other_only_through_their_surface():
    reaching_in = set(cross_package_submodule_imports())
    assert not reaching_in, (
        "import these from the package (add the name to its __init__ if it is missing): "
        f"{sorted(reaching_in)}"
    )


#: The size a module may grow to before it is split by concept.
MAX_MODULE_LINES = 300


def test_no_module_of_the_packages_is_over_300_lines():
    long = {
        str(path.relative_to(ROOT)): lines
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"split these by concept: {long}"
