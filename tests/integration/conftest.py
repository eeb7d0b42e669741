"""Fixtures of the fault, security and identity tests (defined in ``harness``)."""

from tests.integration.harness import emulator_proc, worker_proc

__all__ = ["emulator_proc", "worker_proc"]
