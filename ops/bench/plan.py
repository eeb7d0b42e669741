"""How many of everything a run does: the full run's counts, and the smoke run's."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    """How many of everything a run does; ``smoke`` only proves the harness works."""

    noop_rounds: int = 32
    noop_jobs: int = 300
    #: (a) starts no new round after this many seconds once it has ``noop_min_rounds``: on a
    #: machine a third as fast the 32 rounds alone took 200 s, and the run is to stay under 5 min.
    noop_seconds: float = 60.0
    noop_min_rounds: int = 8
    hit_iterations: int = 20000
    build_iterations: int = 40
    io_rounds: int = 3
    io_jobs: int = 1000
    rss_clients: int = 50
    lru_size: int = 8
    scale_rounds: int = 2
    scale_jobs_per_process: int = 200
    latency_jobs: int = 200
    sweep_waves: int = 10
    sweep_levels: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    profile_iterations: int = 10000
    gate_calls: int = 1000
    job_calls: int = 600
    width_jobs: int = 2000
    width_levels: tuple[int, ...] = (250, 500, 1000)
    width_latency: float = 4.0
    smoke_run: bool = False

    @classmethod
    def smoke(cls) -> Plan:
        """Return tiny counts: every measurement runs, none of the figures means anything."""
        return cls(
            noop_rounds=2,
            noop_jobs=80,
            noop_min_rounds=2,
            hit_iterations=300,
            build_iterations=2,
            io_rounds=1,
            io_jobs=100,
            rss_clients=6,
            lru_size=3,
            scale_rounds=1,
            scale_jobs_per_process=20,
            latency_jobs=10,
            sweep_waves=1,
            sweep_levels=(1, 8, 64),
            profile_iterations=300,
            gate_calls=100,
            job_calls=20,
            width_jobs=40,
            width_levels=(20,),
            width_latency=0.5,
            smoke_run=True,
        )
