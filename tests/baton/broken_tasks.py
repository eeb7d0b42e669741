"""A task module that fails at import, for ``baton worker --include`` (never imported by tests)."""

raise RuntimeError("this module fails at import on purpose")
