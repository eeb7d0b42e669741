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

It verifies SigV4 for real, applies a region-scoped IAM policy, validates model IDs against the
region's geography, and journals every call, so tests can prove a subagent called Bedrock with
exactly its parent's region and model. Directives in a prompt (``<<tree depth=2 width=3>>``, see
:mod:`emulator.scripting`) make Converse call the ``Task`` tool, so a test can drive a whole agent
tree. ``python -m emulator`` runs it as a process.
"""

from emulator.credentials import (
    OTHER_ACCESS_KEY_ID,
    OTHER_SECRET_ACCESS_KEY,
    TEST_ACCESS_KEY_ID,
    TEST_ACCOUNT_ID,
    TEST_SECRET_ACCESS_KEY,
    Identity,
)
from emulator.errors import (
    AccessDenied,
    AuthenticationError,
    EmulatorError,
    IncompleteSignature,
    InvalidSignature,
    MissingAuthenticationToken,
    ServiceError,
    StartupError,
    UnknownOperation,
    UnrecognizedClient,
    ValidationError,
)
from emulator.journal import Call, Journal
from emulator.policy import RegionPolicy, resource_arn
from emulator.runner import Emulator, serve
from emulator.scripting import TASK_TOOL, task_directive, tree_directive
from emulator.server import Request, Response
from emulator.service import CALLS_PATH, BedrockService

#: The line ``python -m emulator`` prints once listening, followed by a space and the URL.
READY_PREFIX = "BATON_EMULATOR_READY"

__all__ = [
    "CALLS_PATH",
    "OTHER_ACCESS_KEY_ID",
    "OTHER_SECRET_ACCESS_KEY",
    "READY_PREFIX",
    "TASK_TOOL",
    "TEST_ACCESS_KEY_ID",
    "TEST_ACCOUNT_ID",
    "TEST_SECRET_ACCESS_KEY",
    "AccessDenied",
    "AuthenticationError",
    "BedrockService",
    "Call",
    "Emulator",
    "EmulatorError",
    "Identity",
    "IncompleteSignature",
    "InvalidSignature",
    "Journal",
    "MissingAuthenticationToken",
    "RegionPolicy",
    "Request",
    "Response",
    "ServiceError",
    "StartupError",
    "UnknownOperation",
    "UnrecognizedClient",
    "ValidationError",
    "resource_arn",
    "serve",
    "task_directive",
    "tree_directive",
]
