"""What a task body calls Bedrock with: clients, a session and credentials, all from its envelope.

Usage::

    from workers import app, bedrock_client, bedrock_session, current_envelope

    @app.task
    def summarize(text):
        envelope = current_envelope()
        return bedrock_client().converse(modelId=envelope.model_id, messages=[...])

Each call finds the running job (the gate's context variable, which follows ``asyncio.run`` and
``ThreadPoolExecutor``) and the runtime of the app that admitted it, so an app made with
``create_app`` serves its own jobs with its own keys and cache. Outside a job each raises
``NoCurrentEnvelope``, an ``EnvelopeMissing``: Baton never falls back to the worker's defaults.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workers.clients import FrozenCredentials
from workers.context import require_job

if TYPE_CHECKING:
    import boto3
    from types_boto3_bedrock import BedrockClient
    from types_boto3_bedrock_runtime import BedrockRuntimeClient


def bedrock_client() -> BedrockRuntimeClient:
    """Return the cached bedrock-runtime client for the running job's envelope."""
    job = require_job()
    return job.runtime.clients.get(job.envelope)


def bedrock_control_client() -> BedrockClient:
    """Return the ``bedrock`` control-plane client (GetInferenceProfile...) for the running job:
    the envelope's region, identity and endpoint, never the worker's ``AWS_ENDPOINT_URL_BEDROCK``.
    """
    job = require_job()
    return job.runtime.clients.control(job.envelope)


def bedrock_session() -> boto3.Session:
    """Return a boto3 Session pinned to the running job's region, identity and endpoint.

    ``session.region_name`` is the envelope's region; a client made from it ignores
    ``AWS_ENDPOINT_URL*`` and never uses ``AWS_BEARER_TOKEN_BEDROCK``. A ``bedrock-runtime`` or
    ``bedrock`` client made from it with no ``endpoint_url`` calls the envelope's endpoint (or
    its control-plane sibling); one pointed at an endpoint this worker does not allow
    (``BATON_ALLOWED_ENDPOINTS``) raises ``EndpointNotAllowed``, and nothing is sent.
    """
    job = require_job()
    runtime = job.runtime
    return runtime.clients.session(job.envelope, allowlist=runtime.endpoint_allowlist)


def bedrock_credentials() -> FrozenCredentials:
    """Return frozen credentials (access key, secret key, token) of the envelope's identity,
    for libraries that take keys rather than a client. Ask again for a long job: assumed-role
    credentials are renewed behind this call, never behind a frozen copy."""
    job = require_job()
    return job.runtime.clients.frozen_credentials(job.envelope)
