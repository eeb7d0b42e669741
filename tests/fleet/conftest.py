"""Fixtures of the fleet's tests."""

from __future__ import annotations

import time

import pytest


@pytest.fixture()
def frozen_redis_clock(monkeypatch):
    """Stop fakeredis's clock (the scripts read TIME), so a test about spacing is not about how
    fast the machine ran its admissions."""
    from fakeredis.commands_mixins import server_mixin

    now = time.time()
    monkeypatch.setattr(
        server_mixin, "time", type("Clock", (), {"time": staticmethod(lambda: now)})
    )
    return now
