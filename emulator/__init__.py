"""A local, Bedrock-runtime-compatible endpoint that real, unmodified boto3 talks to.

Usage::

    import boto3
    from botocore.config import Config
    from emulator import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY, Emulator

    with Emulator(allowed_regions={"eu-west-1"}) as emulator:
        client = boto3.client(
            "bedrock-runtime",
            region_name="eu-west-1",
            endpoint_url=emulator.url,
            aws_access_key_id=TEST_ACCESS_KEY_ID,
            aws_secret_access_key=TEST_SECRET_ACCESS_KEY,
            config=Config(signature_version="v4"),
        )
        client.converse(modelId="eu.anthropic.claude-sonnet-4-20250514-v1:0", messages=[...])
        emulator.calls()       # what arrived: region, model ID, access key, status

It verifies SigV4 for real, applies an IAM policy (the ``allowed_regions`` shortcut and/or a
policy file, with AWS's cross-region rule), validates model IDs against the region's geography,
and journals every call, so tests can prove a subagent called Bedrock with exactly its parent's
region and model. It serves Converse, ConverseStream, InvokeModel and
InvokeModelWithResponseStream (real event-stream framing), the control plane's
ListInferenceProfiles and GetInferenceProfile, and STS AssumeRole, whose temporary credentials
it then accepts (:mod:`emulator.sts`). Faults (throttling, outages, model errors, latency,
dropped connections) are injected by rate, at start or at runtime. Directives in a
prompt (``<<tree depth=2 width=3>>``, see :mod:`emulator.scripting`) make Converse call the
``Task`` tool, so a test can drive a whole agent tree. ``python -m emulator`` runs it as a
process.

The package exports what its users touch: the ``Emulator`` and ``serve``, the journal's
``Call``, the test identities, the directive writers, and the errors a caller can receive. The
service's pieces (policy, profiles, faults, HTTP errors) are imported from their modules.
"""

from emulator.credentials import (
    OTHER_ACCESS_KEY_ID,
    OTHER_SECRET_ACCESS_KEY,
    TEST_ACCESS_KEY_ID,
    TEST_ACCOUNT_ID,
    TEST_SECRET_ACCESS_KEY,
)
from emulator.errors import ConfigurationError, EmulatorError, StartupError
from emulator.journal import Call
from emulator.runner import Emulator, serve
from emulator.scripting import task_directive, tree_directive
from emulator.sts import ISSUED_SECRET_MARKER

#: The line ``python -m emulator`` prints once listening, followed by a space and the URL.
READY_PREFIX = "BATON_EMULATOR_READY"

__all__ = [
    "ISSUED_SECRET_MARKER",
    "OTHER_ACCESS_KEY_ID",
    "OTHER_SECRET_ACCESS_KEY",
    "READY_PREFIX",
    "TEST_ACCESS_KEY_ID",
    "TEST_ACCOUNT_ID",
    "TEST_SECRET_ACCESS_KEY",
    "Call",
    "ConfigurationError",
    "Emulator",
    "EmulatorError",
    "StartupError",
    "serve",
    "task_directive",
    "tree_directive",
]
