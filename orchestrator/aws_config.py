"""The AWS shared config file, read as the AWS CLI reads it: the region of a named profile.

``capture`` reads it last, when no flag or variable gives a region and ``AWS_PROFILE`` is set.
Both functions take the environment as an argument, so capture stays a pure function of its
inputs.
"""

from __future__ import annotations

import configparser
from collections.abc import Mapping
from pathlib import Path

from orchestrator.errors import InvalidSetting

#: Where the AWS CLI and boto3 look for profiles when ``AWS_CONFIG_FILE`` is unset.
DEFAULT_AWS_CONFIG_FILE = "~/.aws/config"


def config_path(environ: Mapping[str, str]) -> Path:
    """Locate the AWS config file as the AWS CLI does, but from ``environ``, not ``os.environ``."""
    configured = environ.get("AWS_CONFIG_FILE")
    if configured:
        return Path(configured).expanduser()
    home = environ.get("HOME")
    if home:
        return Path(home) / ".aws" / "config"
    return Path(DEFAULT_AWS_CONFIG_FILE).expanduser()


def profile_region(path: Path, profile: str) -> str | None:
    """Return the ``region`` of ``profile`` in the config file at ``path``, else None.

    A missing file or section is not an error here: the profile may live only in the credentials
    file. An unparseable file is, because guessing past it could pick the wrong region.
    """
    # Raw, like botocore: AWS config values may contain '%', which interpolation would reject.
    parser = configparser.RawConfigParser(strict=False)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise InvalidSetting(
            f"AWS config file {path} cannot be parsed ({exc}); fix its syntax or point "
            "AWS_CONFIG_FILE at a valid file"
        ) from exc
    section = "default" if profile == "default" else f"profile {profile}"
    return parser.get(section, "region", fallback=None) or None
