"""Inference-profile discovery: ask Bedrock which profiles exist where the parent runs.

The shipped catalogue goes stale as AWS adds profiles and regions. Where ListInferenceProfiles
answers in the parent's region (real Bedrock or the emulator), its answer corrects the catalogue
for that region's geographies; it is cached on disk with a TTL, and any failure falls back to the
shipped catalogue with the reason logged. Resolution still happens once, here, on the parent.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from envelope import Catalogue, catalogue

logger = logging.getLogger("baton.orchestrator")

#: Discovery must never make ``baton run`` slow: one attempt, short timeouts.
DISCOVERY_CLIENT_CONFIG = Config(
    signature_version="v4",
    ignore_configured_endpoint_urls=True,  # type: ignore[call-arg]  # stubs lag botocore
    retries={"mode": "standard", "total_max_attempts": 1},
    connect_timeout=2,
    read_timeout=5,
)


@dataclass(frozen=True)
class Discovered:
    """What ListInferenceProfiles returned in one region: profile ID -> destination regions."""

    region: str
    profiles: dict[str, tuple[str, ...]]
    fetched_at: float

    def catalogue(self, base: Catalogue | None = None) -> Catalogue:
        """Return ``base`` (default: the shipped catalogue) corrected by this answer."""
        return (base or catalogue()).with_discovered(region=self.region, profile_ids=self.profiles)


def default_cache_dir(environ: Mapping[str, str]) -> Path:
    """``$XDG_CACHE_HOME/baton``, else ``~/.cache/baton`` (``BATON_CACHE_DIR`` overrides)."""
    xdg = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "baton"


def _cache_file(cache_dir: Path, region: str, endpoint_url: str | None) -> Path:
    digest = hashlib.sha256(f"{region}|{endpoint_url}".encode()).hexdigest()[:16]
    return cache_dir / f"profiles-{region}-{digest}.json"


def fetch(*, region: str, endpoint_url: str | None) -> Discovered:
    """Call ListInferenceProfiles (all pages) in ``region``; raise botocore errors as they come."""
    client = boto3.Session().client(
        "bedrock", region_name=region, endpoint_url=endpoint_url, config=DISCOVERY_CLIENT_CONFIG
    )
    profiles: dict[str, tuple[str, ...]] = {}
    try:
        for page in client.get_paginator("list_inference_profiles").paginate(
            typeEquals="SYSTEM_DEFINED"
        ):
            for summary in page.get("inferenceProfileSummaries", []):
                profiles[summary["inferenceProfileId"]] = _destinations(summary)
    finally:
        client.close()
    return Discovered(region=region, profiles=profiles, fetched_at=time.time())


def _destinations(summary: Mapping[str, Any]) -> tuple[str, ...]:
    arns = (model.get("modelArn", "") for model in summary.get("models", []))
    return tuple(dict.fromkeys(arn.split(":")[3] for arn in arns if arn.count(":") >= 5))


def discover(
    *,
    region: str,
    endpoint_url: str | None,
    cache_dir: Path,
    ttl: float,
) -> Discovered | None:
    """Return a fresh cached answer, else ask Bedrock; None (logged) when it cannot be had."""
    path = _cache_file(cache_dir, region, endpoint_url)
    cached = _read(path)
    if cached is not None and time.time() - cached.fetched_at < ttl:
        return cached
    try:
        found = fetch(region=region, endpoint_url=endpoint_url)
    except (BotoCoreError, ClientError) as exc:
        logger.info(
            "inference-profile discovery in %s unavailable (%s); using the catalogue", region, exc
        )
        return cached
    _write(path, found)
    return found


def _read(path: Path) -> Discovered | None:
    try:
        data = json.loads(path.read_text())
        return Discovered(
            region=data["region"],
            profiles={k: tuple(v) for k, v in data["profiles"].items()},
            fetched_at=float(data["fetched_at"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write(path: Path, found: Discovered) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "region": found.region,
            "profiles": found.profiles,
            "fetched_at": found.fetched_at,
        }
        path.write_text(json.dumps(payload))
    except OSError as exc:
        logger.info("could not cache discovered profiles at %s: %s", path, exc)
