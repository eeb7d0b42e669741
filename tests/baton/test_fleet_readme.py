"""The README's local fleet, run as a new user would paste it: "Running a multi-region fleet".

The two local blocks are read from README.md and each line runs in ``bash`` as written, so the
README cannot drift from what is tested. Three things differ from a user's machine, all outside
the blocks' text but one: the emulator's port 8750 is replaced by a free one (other tests and
other fleets may hold 8750); the broker and backend are the suite's private Redis
(``BATON_BROKER_URL``, ``BATON_RESULT_BACKEND`` in the environment, as a user's default Redis
would be); and every other AWS, BATON and ANTHROPIC variable is scrubbed, as on a fresh machine.

``export`` lines are pasted in every terminal; ``baton emulator`` and ``baton worker`` keep
running (a second ``baton emulator`` replaces the first, as the README says to restart it); every
other line must exit 0.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from emulator import READY_PREFIX
from tests.conftest import clean_env
from tests.support.processes import ROOT, Proc, descendants, free_port, sigkill

pytestmark = pytest.mark.integration

SECTION = "## Running a multi-region fleet"
README_PORT = "8750"
#: A line of ``baton run`` output for one finished subagent, with its region.
RESULT_ROW = re.compile(r"│ [0-9a-f]{8} │ general-purpose │ (?P<region>[a-z0-9-]+) +│")


def local_blocks() -> list[list[str]]:
    """The ``bash`` blocks of the fleet section before the AWS one: its local path."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    local = section.split("**Against AWS Bedrock**", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", local, flags=re.DOTALL)
    return [[line for line in block.splitlines() if line.strip()] for block in blocks]


def test_the_readme_has_a_local_path_for_one_region_then_two():
    one, two = local_blocks()
    assert [line.split()[0] for line in one[:3]] == ["export"] * 3
    assert "BATON_ALLOWED_ENDPOINTS=loopback" in one[2]
    assert any("--allow-region eu-central-1" in line for line in two)


class Terminal:
    """What a user's terminals share: the pasted exports, this interpreter's ``baton``."""

    def __init__(self, env: dict[str, str], exports: list[str], port: str) -> None:
        self.env, self.exports, self.port = env, exports, port
        self.running: dict[str, Proc] = {}

    def script(self, line: str, *, replace: bool = False) -> str:
        lines = [*self.exports, f"exec {line}" if replace else line]
        return "\n".join(lines).replace(README_PORT, self.port)

    def start(self, line: str) -> Proc:
        kind = "emulator" if line.startswith("baton emulator") else line
        if kind in self.running:
            self.stop(kind)  # the README's restart
        proc = Proc(["bash", "-c", self.script(line, replace=True)], env=self.env, name=line)
        self.running[kind] = proc
        proc.wait_for(READY_PREFIX if kind == "emulator" else " ready.")
        return proc

    def run(self, line: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", self.script(line)],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def stop(self, kind: str) -> None:
        proc = self.running.pop(kind)
        children = descendants(proc.pid)
        proc.stop()
        sigkill(*children)

    def close(self) -> None:
        for kind in list(self.running):
            self.stop(kind)


def test_the_readme_local_fleet_runs_step_by_step_for_one_region_then_two(redis_urls):
    one, two = local_blocks()
    exports = [line for line in one if line.startswith("export ")]
    bin_dir = str(Path(sys.executable).parent)
    env = clean_env(
        BATON_BROKER_URL=redis_urls[0],
        BATON_RESULT_BACKEND=redis_urls[1],
        PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        COLUMNS="200",
    )
    terminal = Terminal(env, exports, str(free_port()))
    ran: list[str] = []
    try:
        for line in [line for line in one if not line.startswith("export ")] + two:
            if line.startswith(("baton emulator", "baton worker")):
                terminal.start(line)
                continue
            result = terminal.run(line)
            assert result.returncode == 0, f"{line}\n{result.stdout}\n{result.stderr}"
            region = line.split("AWS_REGION=", 1)[1].split()[0]
            prompts = line.count("--prompt")
            regions = RESULT_ROW.findall(result.stdout)
            assert regions == [region] * prompts, result.stdout
            ran.append(region)
    finally:
        terminal.close()
    assert ran == ["eu-west-1", "eu-central-1", "eu-west-1"]
