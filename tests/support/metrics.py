"""Reading a worker's Prometheus metrics over HTTP, as an operator's scraper would."""

from __future__ import annotations

import time
import urllib.request


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        return response.read().decode()


def scrape_until(port: int, name: str, *, timeout: float = 60, **labels: str) -> str:
    """Scrape until the sample ``name`` with ``labels`` is counted, for ``timeout`` seconds at
    most; return the last scrape."""
    deadline = time.monotonic() + timeout
    text = scrape(port)
    while not sample(text, name, **labels) and time.monotonic() < deadline:
        time.sleep(0.2)
        text = scrape(port)
    return text


def sample(text: str, name: str, **labels: str) -> float:
    """Return the value of one sample line, or 0 when absent."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        head, _, value = line.rpartition(" ")
        if head.startswith(name + "{") and all(f'{k}="{v}"' in head for k, v in labels.items()):
            return float(value)
        if head == name and not wanted:
            return float(value)
    return 0.0
