"""Fixtures of the fault, security and identity tests (defined in ``brokers`` and ``harness``)."""

from tests.integration.brokers import in_flight
from tests.integration.harness import emulator_proc

__all__ = ["emulator_proc", "in_flight"]
