"""Keep credentials out of logs, whatever level the process logs at.

botocore's DEBUG records carry what Baton must never log in plain text: ``botocore.auth`` writes
the canonical request (with ``x-amz-security-token``), ``botocore.endpoint`` the request headers,
``botocore.parsers`` response bodies (an STS AssumeRole answer holds ``SecretAccessKey`` and
``SessionToken``). Parents and workers cap those loggers at INFO, so a ``--loglevel debug`` run
stays safe to share, or at the root logger's level when that is higher, so the cap never makes
a quiet process chattier (``Found credentials in environment variables`` under a WARNING root).
"""

from __future__ import annotations

import logging

#: Loggers whose DEBUG records contain credentials, session tokens or signed payloads.
SECRET_BEARING_LOGGERS = (
    "botocore.auth",
    "botocore.endpoint",
    "botocore.parsers",
    "botocore.credentials",
    "urllib3.connectionpool",
)


def cap_secret_bearing_loggers() -> None:
    """Raise the secret-bearing loggers to INFO, or to the root logger's level when that is
    higher (never lower a level someone set higher)."""
    floor = max(logging.INFO, logging.getLogger().getEffectiveLevel())
    for name in SECRET_BEARING_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level < floor:
            logger.setLevel(floor)
