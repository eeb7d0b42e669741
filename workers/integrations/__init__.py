"""Glue between a job's envelope and the agent frameworks teams already use.

Each module imports its framework only when called, so none is needed to import ``workers``:

- ``anthropic``: ``AnthropicBedrock`` / ``AsyncAnthropicBedrock`` (extra ``anthropic``);
- ``claude_code``: the environment of a Claude Code CLI or claude-agent-sdk subprocess;
- ``langchain``: ``ChatBedrockConverse`` (extra ``langchain``);
- ``pydantic_ai``: ``BedrockConverseModel`` (extra ``pydantic-ai``);
- ``strands``: ``BedrockModel`` (extra ``strands``);
- ``litellm``: keyword arguments for ``litellm.completion`` (extra ``litellm``).
"""

from workers.integrations.anthropic import anthropic_client, async_anthropic_client
from workers.integrations.claude_code import claude_code_env

__all__ = ["anthropic_client", "async_anthropic_client", "claude_code_env"]
