"""The tests' own boto3 clients, all made from one Session.

botocore loads a service's model and the endpoint rules once per Session: a fresh Session for
every client cost about 0.1 s of JSON parsing each, a third of the emulator tests' time. Every
client made here names its region, endpoint and keys, so nothing a Session reads from the
machine (a profile, its region or keys) reaches it. Clients are made on the test's own thread,
one at a time, as a Session requires.
"""

from __future__ import annotations

import functools
from typing import Any

import boto3


@functools.cache
def _session() -> boto3.session.Session:
    return boto3.session.Session()


def client(service: str, **options: Any) -> Any:
    """A boto3 client of ``service``, built with ``options`` from the shared Session."""
    return _session().client(service, **options)
