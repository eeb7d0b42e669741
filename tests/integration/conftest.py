"""Fixtures of the fault, security and identity tests (defined in ``harness``)."""

from tests.integration.brokers import broker, in_flight, producer_settings
from tests.integration.harness import emulator_proc, worker_proc

__all__ = ["broker", "emulator_proc", "in_flight", "producer_settings", "worker_proc"]
