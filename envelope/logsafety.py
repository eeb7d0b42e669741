"""Keep credentials out of logs, whatever level the process logs at.

botocore's DEBUG records carry what Baton must never log in plain text: ``botocore.auth`` writes
the canonical request (with ``x-amz-security-token``), ``botocore.endpoint`` the request headers,
``botocore.parsers`` response bodies (an STS AssumeRole answer holds ``SecretAccessKey`` and
``SessionToken``). Parents and workers cap those loggers at INFO, so a ``--loglevel debug`` run
stays safe to share.
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
    """Raise the secret-bearing loggers to INFO (never lower a level someone set higher)."""
    for name in SECRET_BEARING_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level < logging.INFO:
            logger.setLevel(logging.INFO)
