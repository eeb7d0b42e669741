"""The Converse call: a pure function of a client and a request, tested without a broker."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from workers.errors import BedrockCallFailed
from workers.results import Usage

if TYPE_CHECKING:
    from types_boto3_bedrock_runtime import BedrockRuntimeClient

#: Output cap for one subagent turn; subagents answer briefly.
DEFAULT_MAX_TOKENS = 1024

_HINTS = {
    "AccessDeniedException": "the identity lacks bedrock:InvokeModel on this resource in this "
    "region; run `baton iam-policy` for the statement to add",
    "ValidationException": "check the model ID's geography prefix against the region "
    "(run `baton doctor`)",
    "UnrecognizedClientException": "the worker's credentials are not valid for this endpoint",
}


@dataclass(frozen=True)
class Reply:
    """The assistant's answer to one Converse call."""

    text: str
    stop_reason: str
    usage: Usage


def converse(
    client: BedrockRuntimeClient, *, model_id: str, prompt: str, system: str | None
) -> Reply:
    """Send one user turn and return the reply; raise BedrockCallFailed with a hint on error."""
    request: dict[str, Any] = {
        "modelId": model_id,
        "messages": [{"role": "user", "content": [{"text": prompt}]}],
        "inferenceConfig": {"maxTokens": DEFAULT_MAX_TOKENS},
    }
    if system:
        request["system"] = [{"text": system}]
    try:
        response = client.converse(**request)
    except ClientError as exc:
        raise _call_failed(exc, client=client, model_id=model_id) from exc
    except BotoCoreError as exc:
        raise BedrockCallFailed(
            f"could not reach Bedrock at {client.meta.endpoint_url} "
            f"({client.meta.region_name}): {exc}"
        ) from exc
    content = response["output"].get("message", {}).get("content", [])
    usage = response.get("usage", {})
    return Reply(
        text="".join(block.get("text", "") for block in content),
        stop_reason=str(response.get("stopReason", "end_turn")),
        usage=Usage(
            input_tokens=usage.get("inputTokens", 0),
            output_tokens=usage.get("outputTokens", 0),
            total_tokens=usage.get("totalTokens", 0),
        ),
    )


def _call_failed(exc: ClientError, *, client: BedrockRuntimeClient, model_id: str) -> Exception:
    error = exc.response.get("Error", {})
    code = error.get("Code", "Unknown")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
    hint = _HINTS.get(code, "see `baton doctor` for a diagnosis")
    return BedrockCallFailed(
        f"Bedrock answered {status} {code} in {client.meta.region_name} for model {model_id}: "
        f"{error.get('Message', '')}; {hint}"
    )
