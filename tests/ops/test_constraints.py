"""The constraints file (constraints.txt) and the command that refreshes it (ops/constraints.py).

Only the command's pure parts run here: how it reads ``pip freeze`` and writes the file, and how
it refuses bad arguments. Its installs need the network, so the quick loop never runs them.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import tomllib
from types import ModuleType

import pytest
from packaging.requirements import Requirement

from tests.support.processes import ROOT

CONSTRAINTS = ROOT / "constraints.txt"


def load_command() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "ops_constraints", ROOT / "ops" / "constraints.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


command = load_command()

FREEZE = """\
Redis==8.2.0
celery==5.7.0
# Editable install with no version control (baton==0.1.0)
-e /work/baton
typing_extensions==4.16.0
ruamel.yaml==0.19.1
"""


def test_the_file_pins_each_frozen_package_sorted_by_its_normalised_name():
    pins = command.parse_freeze(FREEZE, "baton")

    text = command.render(pins, ["A header.", ""])

    assert text.splitlines() == [
        "# A header.",
        "#",
        "celery==5.7.0",
        "redis==8.2.0",
        "ruamel-yaml==0.19.1",
        "typing-extensions==4.16.0",
    ]


def test_the_project_itself_is_left_out_even_when_pip_lists_it_as_a_pin():
    pins = command.parse_freeze("Baton==0.1.0\nkombu==5.7.0\n", "baton")

    assert pins == {"kombu": "5.7.0"}


@pytest.mark.parametrize(
    "line", ["somepkg @ file:///tmp/somepkg-1.0-py3-none-any.whl", "somepkg>=1", "not a pin"]
)
def test_a_line_pip_cannot_pin_by_version_is_refused_with_the_line(line):
    with pytest.raises(command.ConstraintsError, match=re.escape(repr(line))):
        command.parse_freeze(f"kombu==5.7.0\n{line}\n", "baton")


def test_a_written_file_reads_back_as_the_same_pins():
    pins = {"redis": "8.2.0", "kombu": "5.7.0"}
    header = command.header_lines(("dev",), "3.11.7", "1 passed in 1.0s")

    assert command.read_pins(command.render(pins, header)) == pins


def test_the_changes_name_each_upgrade_addition_and_removal_and_nothing_else():
    old = {"redis": "8.1.0", "kombu": "5.7.0", "gone": "1.0"}
    new = {"redis": "8.2.0", "kombu": "5.7.0", "fresh": "2.0"}

    assert command.changes(old, new) == ["+fresh 2.0", "-gone 1.0", "redis 8.1.0 -> 8.2.0"]


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["--extras", "dev,nosuch"], "no such extra in pyproject.toml: nosuch"),
        (["--timeout", "0"], "--timeout must be between"),
        (["--timeout", "nan"], "--timeout must be between"),
        (["--output", "/nonexistent-dir/c.txt"], "--output: no directory /nonexistent-dir"),
        (["--python", "/nonexistent/python"], "--python: no such interpreter"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2_before_anything_is_installed(
    argv, complaint, capsys
):
    with pytest.raises(SystemExit) as exit_:
        command.main(argv)

    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert complaint in err
    assert err.count("\n") == 1


def test_the_committed_file_pins_every_dependency_in_range():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    named = [*project["dependencies"], *extras["dev"], *extras["otel"], *extras["compat"]]
    for extra in ("anthropic", "langchain", "pydantic-ai", "strands", "litellm", "claude-code"):
        named += extras[extra]
    pins = command.read_pins(CONSTRAINTS.read_text())

    for line in named:
        requirement = Requirement(line)
        name = command.normalise(requirement.name)
        if name == "baton":
            continue
        assert name in pins, f"constraints.txt pins no {name}: run python ops/constraints.py"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"constraints.txt pins {name}=={pins[name]}, outside pyproject.toml's {requirement}"
        )
    assert "baton" not in pins


def test_the_refresh_leaves_out_only_the_test_of_the_file_it_replaces():
    path, _, name = command.FILE_TEST.partition("::")

    assert path == "tests/ops/test_constraints.py"
    assert name in globals()
    assert command.FILE_TEST in command.QUICK_LOOP


def test_ci_and_the_quick_start_install_with_the_constraints_file():
    ci_install = [
        line for line in (ROOT / ".ci" / "run").read_text().splitlines() if "pip install" in line
    ]
    readme = (ROOT / "README.md").read_text()

    assert any("-e '.[dev,compat,otel,gevent]' -c constraints.txt" in line for line in ci_install)
    assert "pip install -e '.[dev]' -c constraints.txt && baton demo" in readme
