"""Keyword arguments that make ``litellm.completion`` call Bedrock as the running job.

Usage::

    import litellm
    from workers import app
    from workers.integrations.litellm import completion_kwargs

    @app.task
    def summarize(text):
        reply = litellm.completion(**completion_kwargs(max_tokens=256), messages=[
            {"role": "user", "content": f"Summarize: {text}"},
        ])
        return reply.choices[0].message.content

LiteLLM takes no boto3 client: it signs each request itself, from its arguments, falling back to
the environment for each one missing. Every fallback is closed here:

- ``api_key=""``: LiteLLM sends ``AWS_BEARER_TOKEN_BEDROCK`` whenever ``api_key`` is None,
  whatever the keys say; an empty one means no token;
- ``aws_region_name``: else ``AWS_REGION_NAME``, ``AWS_REGION``, boto3's region, us-west-2;
- ``aws_bedrock_runtime_endpoint``: else ``AWS_BEDROCK_RUNTIME_ENDPOINT``; when the envelope
  names no endpoint this is the regional one, as Baton's client resolved it;
- the access key, secret and token of the envelope's identity, the token ``""`` when there is
  none, so ``AWS_SESSION_TOKEN`` is not paired with another identity's keys.

LiteLLM's own identity variables ``AWS_ROLE_NAME`` and ``AWS_PROFILE_NAME`` outrank explicit keys
(with the first it assumes that role, through the worker's STS endpoint and region) and no
argument can switch them off, so a worker that has one set is refused rather than left to call as
another identity. ``AWS_WEB_IDENTITY_TOKEN``, ``AWS_PROFILE``, ``AWS_ROLE_ARN`` and
``AWS_WEB_IDENTITY_TOKEN_FILE`` are read only on those paths or when no keys are given, never
here. Assumed-role credentials are frozen when this is called: call it for each completion, not
once per job.

LiteLLM fetches its model price list from GitHub when imported, retrying for about 8 s; set
``LITELLM_LOCAL_MODEL_COST_MAP=True`` on workers without internet access.
"""

from __future__ import annotations

import os
from typing import Any

from workers.bedrock import bedrock_client, bedrock_credentials
from workers.context import current_envelope
from workers.errors import WorkerMisconfigured
from workers.integrations.pinning import refuse_pinned

#: The model prefix that sends a call to Bedrock's Converse API, whatever the model family.
MODEL_PREFIX = "bedrock/converse/"

#: Variables that make LiteLLM ignore explicit keys (set but empty counts: it tests ``is None``).
IDENTITY_VARIABLES = ("AWS_ROLE_NAME", "AWS_PROFILE_NAME")

#: Arguments the envelope decides.
_PINNED = frozenset(
    {"model", "api_key", "api_base", "base_url", "aws_region_name", "aws_bedrock_runtime_endpoint"}
    | {"aws_access_key_id", "aws_secret_access_key", "aws_session_token", "aws_session_name"}
    | {"aws_profile_name", "aws_role_name", "aws_web_identity_token", "aws_sts_endpoint"}
    | {"aws_external_id", "aws_bedrock_client", "model_id"}
)


def completion_kwargs(**overrides: Any) -> dict[str, Any]:
    """Return ``litellm.completion`` keyword arguments for the running job's Bedrock call.

    Args:
        **overrides: LiteLLM's other options (``max_tokens``, ``temperature``, ``timeout``...),
            added to the result.

    Raises:
        TypeError: an argument the envelope decides (model, region, endpoint, credentials,
            api key) was passed.
        WorkerMisconfigured: one of :data:`IDENTITY_VARIABLES` is set on this worker.
        NoCurrentEnvelope: called outside a Baton task.
    """
    refuse_pinned(
        overrides, _PINNED, call="completion_kwargs()", others="max_tokens, temperature..."
    )
    found = [name for name in IDENTITY_VARIABLES if name in os.environ]
    if found:
        raise WorkerMisconfigured(
            f"{', '.join(found)} is set on this worker, and LiteLLM would use it instead of the "
            "job's identity; unset it in the worker's environment"
        )
    envelope = current_envelope()
    credentials = bedrock_credentials()
    return {
        "model": MODEL_PREFIX + envelope.model_id,
        "api_key": "",
        "aws_region_name": envelope.region,
        "aws_bedrock_runtime_endpoint": envelope.endpoint_url or bedrock_client().meta.endpoint_url,
        "aws_access_key_id": credentials.access_key,
        "aws_secret_access_key": credentials.secret_key,
        "aws_session_token": credentials.token or "",
        **overrides,
    }
