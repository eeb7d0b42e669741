"""Benchmark workers: started together, paused and resumed by remote control, stopped by pid.

A throughput figure must time the workers, not the publisher, so every timed run has the same
shape: the workers under test stop consuming (``cancel_consumer``), the harness fills the queue,
and the clock starts just before they resume (``add_consumer``). The publisher's CPU and the
workers' start-up are therefore outside every measurement.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from celery import Celery
from names import READY_MARKER
from services import BENCH_DIR, ROOT, TEST_CREDENTIALS, Service, Services, clean_env

#: The node name's host part: fixed, so destinations do not depend on the machine's name.
NODE_HOST = "baton-bench"

#: How long a remote-control call waits for every destination to answer.
CONTROL_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class WorkerSpec:
    """One worker process: which app, which queue, which pool and how many slots."""

    name: str
    app: str
    queue: str
    pool: str = "threads"
    concurrency: int = 1

    @property
    def node(self) -> str:
        """Return the Celery node name, the destination of remote-control calls."""
        return f"bench-{self.name}@{NODE_HOST}"

    def argv(self) -> list[str]:
        """Return the command line; the Baton app also loads the benchmark's no-op module.

        Gossip, mingle and heartbeats are off on every worker alike: they are cluster chatter
        between idle workers, not per-task cost, and they would add noise between runs.
        """
        argv = [sys.executable, "-m", "celery", "-A", self.app, "worker"]
        argv += ["-P", self.pool, "-c", str(self.concurrency), "-Q", self.queue]
        argv += ["-n", self.node, "-l", "warning"]
        argv += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        if self.app == "workers":
            argv += ["-I", "bench_tasks"]
        return argv


def worker_env(spec: WorkerSpec, *, shared: Mapping[str, str]) -> dict[str, str]:
    """Return a clean environment for ``spec``: private Redis, shared key, test credentials.

    ``shared`` holds the run's ``BATON_*`` variables (broker, backend, key, and the Baton app's
    settings for plain workers).
    """
    return clean_env(
        **shared,
        BATON_CONCURRENCY=str(spec.concurrency),
        # The harness pauses and resumes consumers by broadcast (cancel_consumer/add_consumer).
        BATON_REMOTE_CONTROL="true",
        PYTHONPATH=os.pathsep.join((str(BENCH_DIR), str(ROOT))),
        **TEST_CREDENTIALS,
    )


def process_cpu_seconds(pid: int) -> float:
    """Return a process's CPU time from /proc: all its threads, user and system."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float:
    """Return a process's peak resident set size (``VmHWM``) in MiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for pid {pid}")


class Fleet:
    """Workers started at once and waited for together; :meth:`stop` ends each by pid."""

    def __init__(
        self,
        services: Services,
        specs: Iterable[WorkerSpec],
        *,
        control: Celery,
        env: Mapping[str, str],
    ) -> None:
        self.specs = list(specs)
        self._services = services
        self._control = control
        self._procs: list[Service] = []
        for spec in self.specs:
            environ = worker_env(spec, shared=env)
            self._procs.append(services.start(f"worker-{spec.name}", spec.argv(), env=environ))
        for proc in self._procs:
            proc.wait_for(READY_MARKER)
        self._pids = {spec: proc.pid for spec, proc in zip(self.specs, self._procs, strict=True)}

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop every worker of this fleet by pid."""
        for proc in self._procs:
            self._services.stop(proc)
        self._procs = []

    def cpu_seconds(self, specs: Iterable[WorkerSpec]) -> float:
        """Return the CPU time (user + system) ``specs``' processes have used so far."""
        return sum(process_cpu_seconds(self._pids[spec]) for spec in specs)

    def peak_rss_mib(self, spec: WorkerSpec) -> float:
        """Return the peak RSS of ``spec``'s main process so far, in MiB."""
        return peak_rss_mib(self._pids[spec])

    def pause(self, specs: Iterable[WorkerSpec]) -> None:
        """Make ``specs`` stop consuming their queues; wait until each has confirmed."""
        self._broadcast("cancel_consumer", list(specs))

    def resume(self, specs: Iterable[WorkerSpec]) -> None:
        """Make ``specs`` consume their queues again; wait until each has confirmed."""
        self._broadcast("add_consumer", list(specs))

    def _broadcast(self, command: str, specs: list[WorkerSpec]) -> None:
        for queue in sorted({spec.queue for spec in specs}):
            nodes = [spec.node for spec in specs if spec.queue == queue]
            call = getattr(self._control.control, command)
            replies = call(queue, destination=nodes, reply=True, timeout=CONTROL_TIMEOUT_SECONDS)
            answered = {node for reply in replies for node in reply}
            if answered != set(nodes):
                missing = ", ".join(sorted(set(nodes) - answered))
                raise RuntimeError(f"{command} {queue}: no answer from {missing}")
