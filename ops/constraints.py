"""Refresh constraints.txt: the newest releases, tested by the quick loop before it is written.

Usage::

    python ops/constraints.py [--output constraints.txt] [--extras dev,compat,otel,gevent]
                              [--python python3.11] [--timeout 1800] [--keep-venv]

It creates a throwaway venv, installs ``-e '.[dev,compat,otel,gevent]'`` into it with no
constraints (so pip resolves today's newest releases within pyproject.toml's ranges), runs the
quick loop
(``python -m pytest -m "not integration" -q -x``) on them, and only if that passes writes every
installed package but Baton itself as ``name==version`` to the output file, printing what changed.
CI (.ci/run) and the README's install pass the file to pip with ``-c``, so a fresh machine installs
what the quick loop last passed on, while pyproject.toml keeps open ranges for users.

Exit status: 0 the file was written; 1 the install or the quick loop failed or ran out of time
(the file is left as it was, the venv and its log are kept and named); 2 bad arguments.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

ROOT = Path(__file__).resolve().parent.parent
TARGET_PYTHON = (3, 11)
DEFAULT_EXTRAS = ("dev", "compat", "otel", "gevent")
#: The quick loop, less the one test of the file being replaced: after pyproject.toml's ranges
#: move, that file is out of date until this command has rewritten it.
FILE_TEST = "tests/ops/test_constraints.py::test_the_committed_file_pins_every_dependency_in_range"
QUICK_LOOP = ("-m", "pytest", "-m", "not integration", "-q", "-x", "--deselect", FILE_TEST)
#: The packages named in the progress line, the ones a fresh machine's failures came from.
KEY_PACKAGES = ("celery", "kombu", "redis", "fakeredis", "boto3", "pydantic")
MAX_TIMEOUT = 3 * 3600
PYTHON_VERSION = "import platform; print(platform.python_version())"


class ConstraintsError(Exception):
    """Raised when the refresh cannot go on: an install, a freeze or the quick loop failed."""


def normalise(name: str) -> str:
    """A distribution name as pip compares them (PEP 503): lower case, runs of -_. as one -."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_freeze(text: str, project: str) -> dict[str, str]:
    """The ``name==version`` pins of ``pip freeze`` output, without ``project`` (Baton itself).

    Editable lines (``-e ...``) and comments are skipped; a requirement pip cannot pin by version
    (``name @ url``) is refused, since a constraints file of it would not install the same thing.
    """
    pins: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", "-e ", "--editable")):
            continue
        name, sep, version = line.partition("==")
        if not sep or not version or " @ " in line or not re.fullmatch(r"[A-Za-z0-9._-]+", name):
            raise ConstraintsError(f"pip freeze gave {line!r}, which is not a name==version pin")
        if normalise(name) != normalise(project):
            pins[normalise(name)] = version.strip()
    return pins


def read_pins(text: str) -> dict[str, str]:
    """The pins of a constraints file as this command writes it (comments and blanks skipped)."""
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return dict(line.split("==", 1) for line in lines if "==" in line)


def render(pins: Mapping[str, str], header: Iterable[str]) -> str:
    """The constraints file: ``header`` as comments, then one ``name==version`` a line, sorted."""
    comments = [f"# {line}".rstrip() for line in header]
    return "\n".join([*comments, *(f"{name}=={pins[name]}" for name in sorted(pins))]) + "\n"


def changes(old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    """What a refresh changes, one short phrase per package: upgraded, added or dropped."""
    found = []
    for name in sorted(old.keys() | new.keys()):
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        if before is None:
            found.append(f"+{name} {after}")
        elif after is None:
            found.append(f"-{name} {before}")
        else:
            found.append(f"{name} {before} -> {after}")
    return found


def header_lines(extras: Iterable[str], python: str, summary: str) -> list[str]:
    """The comment lines at the top of the file: what it is, how it is used and refreshed."""
    spec = ",".join(extras)
    return [
        f"Tested versions of everything `pip install -e '.[{spec}]'` installs, Baton itself aside.",
        "CI and the README's install use it: pip install -e '.[dev]' -c constraints.txt",
        "pyproject.toml keeps open ranges for users; this is what the quick loop last passed on.",
        "Refresh (newest releases, the quick loop on them, then this file): "
        "python ops/constraints.py",
        f"Written {dt.date.today().isoformat()} with Python {python}; the quick loop: {summary}",
        "",
    ]


def say(message: str) -> None:
    """One progress line on stderr."""
    print(f"constraints: {message}", file=sys.stderr, flush=True)


class Runner:
    """Runs the refresh's commands against one deadline, each in a process group of its own."""

    def __init__(self, deadline: float, log: Path) -> None:
        self.deadline = deadline
        self.log = log

    def run(self, args: list[str], what: str, env: Mapping[str, str] | None = None) -> str:
        """Run ``args`` from the repository root; its output, appended to the log, is returned."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise ConstraintsError(f"out of time before {what}")
        with self.log.open("a") as log:
            log.write(f"\n$ {' '.join(args)}\n")
        proc = subprocess.Popen(
            args, cwd=ROOT, env=env, text=True, start_new_session=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            output, _ = proc.communicate(timeout=remaining)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise ConstraintsError(f"{what} ran out of time (the --timeout)") from None
        with self.log.open("a") as log:
            log.write(output)
        if proc.returncode != 0:
            tail = "\n".join(output.splitlines()[-15:])
            raise ConstraintsError(f"{what} failed (exit {proc.returncode}):\n{tail}")
        return output


def clean_env(venv: Path) -> dict[str, str]:
    """The environment for the venv's commands: its bin first, no constraints of the caller's."""
    env = {k: v for k, v in os.environ.items() if k not in {"PIP_CONSTRAINT", "VIRTUAL_ENV"}}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(ROOT)
    return env


@dataclass(frozen=True)
class Tested:
    """What a refresh resolved and the quick loop passed on."""

    pins: dict[str, str]
    summary: str
    python: str


def refresh(args: argparse.Namespace, work: Path) -> Tested:
    """Install the newest releases into a venv under ``work`` and run the quick loop on them."""
    runner = Runner(time.monotonic() + args.timeout, work / "refresh.log")
    venv = work / "venv"
    say(f"creating a throwaway venv in {venv} (log: {runner.log})")
    runner.run([args.python, "-m", "venv", str(venv)], "creating the venv")
    python, env = str(venv / "bin" / "python"), clean_env(venv)
    runner.run([python, "-m", "pip", "install", "-q", "--upgrade", "pip"], "upgrading pip", env)
    spec = f".[{','.join(args.extras)}]"
    say(f"installing the newest releases of -e '{spec}', with no constraints")
    runner.run([python, "-m", "pip", "install", "-q", "-e", spec], "pip install", env)
    frozen = runner.run([python, "-m", "pip", "freeze", "--exclude-editable"], "pip freeze", env)
    pins = parse_freeze(frozen, project_name())
    keys = ", ".join(f"{name} {pins[name]}" for name in KEY_PACKAGES if name in pins)
    say(f"resolved {len(pins)} packages: {keys}")
    say(f"running the quick loop: {shlex.join(['python', *QUICK_LOOP])}")
    output = runner.run([python, *QUICK_LOOP], "the quick loop", env)
    summary = output.strip().splitlines()[-1].strip("= ") if output.strip() else "no output"
    say(f"the quick loop passed: {summary}")
    version = runner.run([python, "-c", PYTHON_VERSION], "asking the Python version", env)
    return Tested(pins, summary, version.strip())


def project_name() -> str:
    """The project's own distribution name, from pyproject.toml."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        return str(tomllib.load(file)["project"]["name"])


def known_extras() -> set[str]:
    """The extras pyproject.toml defines."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        return set(tomllib.load(file)["project"].get("optional-dependencies", {}))


class Parser(argparse.ArgumentParser):
    """An argument parser whose every complaint is one line on stderr, then exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line, checked: a bad value exits 2 with one line."""
    parser = Parser(
        prog="python ops/constraints.py",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog="Exit status: 0 written; 1 install or quick loop failed (file untouched); 2 usage.",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=ROOT / "constraints.txt",
        help="default: the repository's constraints.txt",
    )
    parser.add_argument("--extras", default=",".join(DEFAULT_EXTRAS), help="default: %(default)s")
    parser.add_argument("--python", default=sys.executable, help="must be Python 3.11 (CI's)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds, all steps")
    parser.add_argument("--keep-venv", action="store_true", help="keep the throwaway venv")
    args = parser.parse_args(argv)
    args.extras = tuple(e.strip() for e in args.extras.split(",") if e.strip())
    unknown = sorted(set(args.extras) - known_extras())
    if unknown:
        parser.error(f"no such extra in pyproject.toml: {', '.join(unknown)}")
    if not 0 < args.timeout <= MAX_TIMEOUT:
        parser.error(f"--timeout must be between 0 and {MAX_TIMEOUT} seconds")
    if not args.output.parent.is_dir():
        parser.error(f"--output: no directory {args.output.parent}")
    check_python(parser, args.python)
    return args


def check_python(parser: Parser, python: str) -> None:
    """Exit 2 unless ``python`` runs and is the target version."""
    if shutil.which(python) is None:
        parser.error(f"--python: no such interpreter {python!r}")
    probe = "import sys; print('{}.{}'.format(*sys.version_info[:2]))"
    try:
        found = subprocess.run(
            [python, "-c", probe], capture_output=True, text=True, check=False, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        parser.error(f"--python {python} does not run: {error}")
    wanted = "{}.{}".format(*TARGET_PYTHON)
    if found.returncode != 0:
        parser.error(f"--python {python} does not run (exit {found.returncode})")
    if found.stdout.strip() != wanted:
        version = found.stdout.strip()
        parser.error(f"--python {python} is Python {version}; the file pins CI's Python {wanted}")


def main(argv: list[str] | None = None) -> int:
    """Refresh the constraints file; the exit status."""
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="baton-constraints-"))
    try:
        tested = refresh(args, work)
    except ConstraintsError as error:
        say(f"nothing written: {error}")
        say(f"the venv and its log are kept in {work}")
        return 1
    old = read_pins(args.output.read_text()) if args.output.is_file() else {}
    text = render(tested.pins, header_lines(args.extras, tested.python, tested.summary))
    partial = args.output.with_name(args.output.name + ".partial")
    partial.write_text(text)
    partial.replace(args.output)
    changed = changes(old, tested.pins) if old else []
    news = f"{len(changed)} changed" if old else "a new file"
    say(f"wrote {args.output}: {len(tested.pins)} pins, {news}")
    for line in changed:
        say(f"  {line}")
    if not args.keep_venv:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
