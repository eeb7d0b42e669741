"""Baton's command line: the composition root, the only package that imports all the others."""

__all__: list[str] = []
