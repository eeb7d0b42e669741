"""Each package's ``__all__`` lists exactly its public names (the httpx pattern)."""

from __future__ import annotations

import importlib
import inspect

import pytest

PACKAGES = ["envelope", "orchestrator", "workers", "emulator"]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_lists_every_public_member_and_nothing_else(name):
    package = importlib.import_module(name)
    public = {
        member
        for member, value in vars(package).items()
        if not member.startswith("_")
        and not inspect.ismodule(value)
        and member not in {"annotations"}
    }
    assert sorted(package.__all__) == sorted(public)
