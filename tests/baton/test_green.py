"""``baton worker --pool gevent`` patches the process first; a missing gevent is one line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from baton.green import INSTALL_HINT, asks_for_gevent


@pytest.mark.parametrize(
    ("argv", "asked"),
    [
        (["worker", "--region", "eu-west-1", "--pool", "gevent"], True),
        (["worker", "--pool=gevent", "--region", "eu-west-1"], True),
        (["worker", "--region", "eu-west-1", "--pool", "threads"], False),
        (["worker", "--region", "eu-west-1"], False),
        (["run", "--prompt", "--pool gevent"], False),
        (["worker", "--pool"], False),
    ],
)
def test_only_a_gevent_worker_is_patched(argv, asked):
    assert asks_for_gevent(argv) is asked


@pytest.mark.integration  # a child process
def test_a_missing_gevent_is_one_line_naming_the_extra_and_exit_2(tmp_path):
    # A directory first on the path where ``gevent`` is a module that will not import.
    (tmp_path / "gevent").mkdir()
    (tmp_path / "gevent" / "__init__.py").write_text("raise ImportError('no gevent here')\n")
    script = (
        f"import sys; sys.path.insert(0, {str(tmp_path)!r}); "
        "sys.argv = ['baton', 'worker', '--region', 'eu-west-1', '--pool', 'gevent']; "
        "import baton.cli"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"Error: --pool gevent needs gevent, which is not installed: {INSTALL_HINT}"
    ]


@pytest.mark.integration  # a child process
def test_a_gevent_worker_process_is_patched_before_its_app_is_imported():
    pytest.importorskip("gevent", reason="install the gevent extra: baton[gevent]")
    script = (
        "import sys; sys.argv = ['baton', 'worker', '--pool', 'gevent']\n"
        "import baton.cli\n"
        "from gevent import monkey\n"
        "import threading\n"
        "print(monkey.is_module_patched('socket'), monkey.is_module_patched('threading'),"
        " 'workers.celery_app' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split() == ["True", "True", "False"]
