"""One Converse turn: a pure function of a client and a conversation, tested without a broker."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    PartialCredentialsError,
)

from envelope import EMULATOR_REGIONS_HEADER, is_region
from workers.errors import BedrockCallFailed, BedrockCallRetryable, IdentityUnavailable
from workers.results import Usage

if TYPE_CHECKING:
    from types_boto3_bedrock_runtime import BedrockRuntimeClient

#: Output cap for one subagent turn; subagents answer briefly.
DEFAULT_MAX_TOKENS = 1024

#: The tool a subagent uses to start subagents of its own: the counterpart of a parent agent's
#: Task tool, with the same input shape.
TASK_TOOL = "Task"

TASK_TOOL_SPEC: dict[str, Any] = {
    "toolSpec": {
        "name": TASK_TOOL,
        "description": "Start a subagent for a self-contained task and get its final answer.",
        "inputSchema": {
            "json": {
                "type": "object",
                "properties": {
                    "description": {"type": "string", "description": "A short label."},
                    "prompt": {"type": "string", "description": "The task, in full."},
                    "subagent_type": {"type": "string", "description": "A named agent."},
                    "model": {"type": "string", "description": "A model alias or ID."},
                },
                "required": ["description", "prompt"],
            }
        },
    }
}

#: Where botocore's default chain looks for the worker's own credentials, in its order.
CREDENTIAL_SOURCES = (
    "AWS_ACCESS_KEY_ID with AWS_SECRET_ACCESS_KEY; AWS_PROFILE (else the default profile) in "
    "~/.aws/credentials and ~/.aws/config (AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE); "
    "web identity (AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN); container credentials (ECS "
    "task role, EKS pod identity); the EC2 instance role"
)

_HINTS = {
    "AccessDeniedException": "the identity lacks bedrock:InvokeModel on this resource in this "
    "region; run `baton iam-policy` for the statement to add",
    "ValidationException": "check the model ID's geography prefix against the region "
    "(run `baton doctor`)",
    "UnrecognizedClientException": "the worker's credentials are not valid for this endpoint",
}


@dataclass(frozen=True)
class ToolUse:
    """One tool call the model asked for."""

    tool_use_id: str
    name: str
    input: dict[str, Any]


@dataclass(frozen=True)
class Reply:
    """The assistant's answer to one Converse call."""

    text: str
    stop_reason: str
    usage: Usage
    message: dict[str, Any] = field(default_factory=dict)
    tool_uses: tuple[ToolUse, ...] = ()


def user_text(prompt: str) -> dict[str, Any]:
    """Return a user message holding ``prompt``."""
    return {"role": "user", "content": [{"text": prompt}]}


def converse(
    client: BedrockRuntimeClient,
    *,
    model_id: str,
    messages: list[dict[str, Any]],
    system: str | None,
    tools: list[dict[str, Any]] | None = None,
) -> Reply:
    """Send the conversation and return the reply; raise BedrockCallFailed with a hint on error."""
    request: dict[str, Any] = {
        "modelId": model_id,
        "messages": messages,
        "inferenceConfig": {"maxTokens": DEFAULT_MAX_TOKENS},
    }
    if system:
        request["system"] = [{"text": system}]
    if tools:
        request["toolConfig"] = {"tools": tools}
    try:
        response = client.converse(**request)
    except ClientError as exc:
        raise _call_failed(exc, client=client, model_id=model_id) from exc
    except (NoCredentialsError, PartialCredentialsError) as exc:
        raise IdentityUnavailable(
            f"no AWS credentials were found on this worker, so the call to "
            f"{client.meta.endpoint_url} ({client.meta.region_name}) was not sent ({exc}); "
            f"botocore looked in: {CREDENTIAL_SOURCES}. Give the worker one of these, or have "
            "the parent pick another identity (BATON_IDENTITY)"
        ) from exc
    except BotoCoreError as exc:
        raise BedrockCallFailed(
            f"could not reach Bedrock at {client.meta.endpoint_url} "
            f"({client.meta.region_name}): {exc}"
        ) from exc
    return _reply(dict(response))


def _reply(response: dict[str, Any]) -> Reply:
    message = dict(response["output"].get("message") or {"role": "assistant", "content": []})
    content = message.get("content", [])
    usage = response.get("usage", {})
    return Reply(
        text="".join(block.get("text", "") for block in content),
        stop_reason=str(response.get("stopReason", "end_turn")),
        usage=Usage(
            input_tokens=usage.get("inputTokens", 0),
            output_tokens=usage.get("outputTokens", 0),
            total_tokens=usage.get("totalTokens", 0),
        ),
        message=message,
        tool_uses=tuple(
            ToolUse(
                tool_use_id=block["toolUse"]["toolUseId"],
                name=block["toolUse"]["name"],
                input=dict(block["toolUse"].get("input") or {}),
            )
            for block in content
            if "toolUse" in block
        ),
    )


def _call_failed(exc: ClientError, *, client: BedrockRuntimeClient, model_id: str) -> Exception:
    error = exc.response.get("Error", {})
    code = error.get("Code", "Unknown")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
    hint = _HINTS.get(code, "see `baton doctor` for a diagnosis")
    allowed = emulator_regions(exc.response)
    if code == "AccessDeniedException" and allowed is not None:
        hint = emulator_hint(allowed, region=client.meta.region_name)
    retryable = isinstance(status, int) and (status == 429 or status >= 500)
    kind = BedrockCallRetryable if retryable else BedrockCallFailed
    return kind(
        f"Bedrock answered {status} {code} in {client.meta.region_name} for model {model_id}: "
        f"{error.get('Message', '')}; {hint}"
    )


def emulator_regions(response: Any) -> list[str] | None:
    """The regions a 403 from Baton's local emulator says it allows, or None for any other
    endpoint (Bedrock sends no such header). Only region names are kept from it."""
    headers = (response.get("ResponseMetadata") or {}).get("HTTPHeaders") or {}
    value = headers.get(EMULATOR_REGIONS_HEADER)
    if not isinstance(value, str):
        return None
    return [region for region in value.split(",") if is_region(region)]


def emulator_hint(allowed: list[str], *, region: str) -> str:
    """The fix for a 403 the local emulator answered: its ``--allow-region`` list, not IAM."""
    regions = sorted({*allowed, region})
    flags = " ".join(f"--allow-region {name}" for name in regions)
    allows = f"allows only {', '.join(allowed)}" if allowed else "allows no region"
    return (
        f"this 403 came from Baton's local emulator, which {allows} (its --allow-region list); "
        f"restart it with one --allow-region per region the fleet calls: `baton emulator {flags}`"
    )
