"""LangChain's ``ChatBedrockConverse`` for the running job.

Usage::

    from workers import app
    from workers.integrations.langchain import chat_model

    @app.task
    def summarize(text):
        return chat_model(temperature=0).invoke(f"Summarize: {text}").content

``ChatBedrockConverse`` builds two boto3 clients when it is not given them, from the worker's
``AWS_REGION``/``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL*``, keys and
``AWS_BEARER_TOKEN_BEDROCK``: ``bedrock-runtime`` for Converse and ``bedrock`` for the control
plane. It calls the second one in its constructor when the model is an application inference
profile ARN (GetInferenceProfile, to learn the model behind it), so that call went to the worker's
defaults even when the runtime client was Baton's. Here both clients are the job's, and for an ARN
the provider it insists on is found through the job's pinned control-plane client before the model
is built.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from envelope import geography_prefix
from workers.bedrock import bedrock_client, bedrock_control_client
from workers.context import current_envelope
from workers.integrations.pinning import missing_sdk, refuse_pinned

if TYPE_CHECKING:
    from langchain_aws import ChatBedrockConverse

#: Arguments the envelope decides. The credential ones only feed clients LangChain would build
#: itself, which it never does here, so passing them could only mislead.
_PINNED = frozenset(
    {"model", "model_id", "region_name", "endpoint_url", "base_url", "client", "bedrock_client"}
    | {"credentials_profile_name", "aws_access_key_id", "aws_secret_access_key"}
    | {"aws_session_token", "bedrock_api_key", "api_key"}
)

#: The ARN kind whose model only GetInferenceProfile can tell.
_APPLICATION_PROFILE = "application-inference-profile"

#: Application profiles remembered per process. A profile's model is fixed when it is created,
#: and the control plane's rate limits are far below Converse's, so one lookup per identity and
#: profile is enough for a fleet.
DEFAULT_PROFILE_CACHE_SIZE = 256

_profiles: OrderedDict[tuple[object, ...], str] = OrderedDict()
_profiles_lock = threading.Lock()


def chat_model(**kwargs: Any) -> ChatBedrockConverse:
    """Return a ``ChatBedrockConverse`` on the running job's clients, model and region.

    Args:
        **kwargs: any other ``ChatBedrockConverse`` option (``temperature``, ``max_tokens``,
            ``system``...). ``provider`` and ``base_model`` may be given to skip the lookup of an
            application inference profile.

    Raises:
        TypeError: an argument the envelope decides (model, region, endpoint, clients,
            credentials) was passed.
        NoCurrentEnvelope: called outside a Baton task.
    """
    try:
        from langchain_aws import ChatBedrockConverse
    except ImportError as exc:
        raise missing_sdk("langchain-aws", extra="langchain", call="chat_model()") from exc

    refuse_pinned(kwargs, _PINNED, call="chat_model()", others="temperature, max_tokens...")
    envelope = current_envelope()
    options: dict[str, Any] = {
        "model": envelope.model_id,
        "region_name": envelope.region,
        "client": bedrock_client(),
        "bedrock_client": bedrock_control_client(),
        # Read only to build clients, which LangChain no longer does, but filled from the
        # worker's environment unless given: so the model holds none of the worker's keys.
        # (Its ``bedrock_api_key`` still copies AWS_BEARER_TOKEN_BEDROCK, through langchain-core's
        # gateway resolution, which None does not stop; nothing reads it once clients are given.)
        "aws_access_key_id": None,
        "aws_secret_access_key": None,
        "aws_session_token": None,
    }
    if envelope.model_id.startswith("arn:") and "provider" not in kwargs:
        base = base_model_id(envelope.model_id, identity=envelope.client_fingerprint)
        options |= {"provider": base.split(".", 1)[0], "base_model": base}
    return ChatBedrockConverse(**(options | kwargs))


def base_model_id(model_arn: str, *, identity: tuple[object, ...]) -> str:
    """Return the foundation model ID (``anthropic.claude-...``) a model ARN stands for.

    LangChain needs the provider of an ARN and Baton's envelope carries only the ARN the parent
    named, so an application profile is asked about through the job's control-plane client:
    the envelope's region, endpoint and identity, like every other call of the job.

    Args:
        model_arn: an application-inference-profile, inference-profile or foundation-model ARN.
        identity: the envelope's client fingerprint; lookups are cached per identity, so each
            one's permission to read the profile is exercised.
    """
    kind, _, resource = model_arn.split(":", 5)[-1].partition("/")
    if kind != _APPLICATION_PROFILE:
        prefix = geography_prefix(resource)
        return resource[len(prefix) + 1 :] if prefix else resource
    key = (identity, model_arn)
    with _profiles_lock:
        found = _profiles.get(key)
    if found is not None:
        return found
    profile = bedrock_control_client().get_inference_profile(inferenceProfileIdentifier=model_arn)
    found = profile["models"][0]["modelArn"].rsplit("/", 1)[-1]
    with _profiles_lock:
        _profiles[key] = found
        while len(_profiles) > DEFAULT_PROFILE_CACHE_SIZE:
            _profiles.popitem(last=False)
    return found
