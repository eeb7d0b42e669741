"""The package's public API is exactly what ``__all__`` lists."""

from __future__ import annotations

import pkgutil

import emulator


def test_every_name_in_all_is_importable():
    missing = [name for name in emulator.__all__ if not hasattr(emulator, name)]

    assert missing == []


def test_every_public_name_of_the_package_is_in_all():
    modules = {module.name for module in pkgutil.iter_modules(emulator.__path__)}
    public = {name for name in vars(emulator) if not name.startswith("_") and name not in modules}

    assert public - {"annotations"} == set(emulator.__all__)


def test_all_has_no_duplicates():
    assert len(emulator.__all__) == len(set(emulator.__all__))
