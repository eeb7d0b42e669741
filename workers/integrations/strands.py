"""Strands Agents' ``BedrockModel`` for the running job.

Usage::

    from strands import Agent
    from workers import app
    from workers.integrations.strands import bedrock_model

    @app.task
    def summarize(text):
        return str(Agent(model=bedrock_model(), callback_handler=None)(f"Summarize: {text}"))

``BedrockModel`` makes its own ``bedrock-runtime`` client from the session it is given (else
``boto3.Session()``): its region is ``region_name``, else the session's, else ``AWS_REGION``,
else us-west-2, and its endpoint is ``endpoint_url``, else whatever botocore finds in
``AWS_ENDPOINT_URL*`` or the config file. Its client config sets no signature version, so botocore
switches to bearer auth whenever ``AWS_BEARER_TOKEN_BEDROCK`` is set. Here the session is the
job's pinned one (its region and identity), the endpoint is the envelope's, and the client config
is the one Baton's own client uses, which pins SigV4, ignores configured endpoints and carries the
parent's retry and timeout settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.config import Config

from workers.bedrock import bedrock_session
from workers.clients import client_config
from workers.context import require_job
from workers.integrations.pinning import missing_sdk, refuse_pinned

if TYPE_CHECKING:
    from strands.models import BedrockModel

#: Arguments the envelope decides.
_PINNED = frozenset({"boto_session", "region_name", "endpoint_url", "api_key", "model_id"})


def bedrock_model(*, boto_client_config: Config | None = None, **kwargs: Any) -> BedrockModel:
    """Return a Strands ``BedrockModel`` for the running job's model, region, endpoint, identity.

    Args:
        boto_client_config: botocore options to add (``read_timeout``, ``retries``...). The
            region, the signature version and ``ignore_configured_endpoint_urls`` are put back
            over it.
        **kwargs: ``BedrockModel``'s model options (``max_tokens``, ``temperature``,
            ``streaming``...).

    Raises:
        TypeError: an argument the envelope decides (model, session, region, endpoint, api key)
            was passed.
        NoCurrentEnvelope: called outside a Baton task.
    """
    try:
        from strands.models import BedrockModel
    except ImportError as exc:
        raise missing_sdk("strands-agents", extra="strands", call="bedrock_model()") from exc

    refuse_pinned(kwargs, _PINNED, call="bedrock_model()", others="max_tokens, temperature...")
    job = require_job()
    envelope = job.envelope
    config = client_config(envelope, max_pool_connections=job.runtime.settings.max_pool_connections)
    if boto_client_config is not None:
        pins = Config(
            region_name=envelope.region,
            signature_version="v4",
            ignore_configured_endpoint_urls=True,  # type: ignore[call-arg]  # stubs lag botocore
        )
        config = config.merge(boto_client_config).merge(pins)
    return BedrockModel(
        boto_session=bedrock_session(),
        boto_client_config=config,
        endpoint_url=envelope.endpoint_url,
        model_id=envelope.model_id,
        **kwargs,
    )
