"""Each package's ``__all__`` lists exactly its public names, once each (the httpx pattern).

What belongs there is what other packages, the README's examples and users import; everything
else stays in its module. Other packages import these names from the package, never from a
submodule (``tests/test_architecture.py``).
"""

from __future__ import annotations

import importlib
import inspect

import pytest

PACKAGES = ["envelope", "fleet", "orchestrator", "workers", "emulator", "baton"]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_lists_every_public_member_and_nothing_else(name):
    package = importlib.import_module(name)
    public = {
        member
        for member, value in vars(package).items()
        if not member.startswith("_")
        and not inspect.ismodule(value)
        and member not in {"annotations", "TYPE_CHECKING"}
    }
    assert sorted(package.__all__) == sorted(public)


@pytest.mark.parametrize("name", PACKAGES)
def test_all_names_each_member_once(name):
    exported = importlib.import_module(name).__all__
    assert len(exported) == len(set(exported))
