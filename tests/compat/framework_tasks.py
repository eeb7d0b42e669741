"""User tasks that call Bedrock through real agent frameworks, loaded into the compat worker.

They are what a team would write: a task on ``workers.app`` that builds its framework's model
with Baton's adapter (or ``workers.anthropic_client()``) and asks one one-line question. Each
returns the reply text, which the emulator writes as ``[region] model: prompt``, so the test
sees what the framework called as well as what the journal recorded.

The ``baton.compat.naive.*`` tasks build each framework the way its documentation shows, from
the worker's own defaults, to prove the trapped environment really traps: their calls must land
on the decoy, never on the parent's emulator.
"""

from __future__ import annotations

import json
from typing import Any

from workers import anthropic_client, app, claude_code_env, current_envelope

#: One line, so every framework makes exactly one model call.
PROMPT = "Say hi"

#: Few tokens: the emulator answers with a short echo anyway.
MAX_TOKENS = 32


def _answer(framework: str, text: object) -> dict[str, Any]:
    envelope = current_envelope()
    return {"framework": framework, "text": str(text), "region": envelope.region}


@app.task(name="baton.compat.anthropic")
def anthropic_task(prompt: str = PROMPT) -> dict[str, Any]:
    message = anthropic_client().messages.create(
        model=current_envelope().model_id,
        max_tokens=MAX_TOKENS,
        messages=[{"role": "user", "content": prompt}],
    )
    return _answer("anthropic", message.content[0].text)  # type: ignore[union-attr]


@app.task(name="baton.compat.langchain")
def langchain_task(prompt: str = PROMPT) -> dict[str, Any]:
    from workers.integrations.langchain import chat_model

    return _answer("langchain", chat_model(max_tokens=MAX_TOKENS).invoke(prompt).content)


@app.task(name="baton.compat.litellm")
def litellm_task(prompt: str = PROMPT) -> dict[str, Any]:
    import litellm

    from workers.integrations.litellm import completion_kwargs

    reply = litellm.completion(
        **completion_kwargs(max_tokens=MAX_TOKENS, timeout=30),
        messages=[{"role": "user", "content": prompt}],
    )
    return _answer("litellm", reply.choices[0].message.content)


@app.task(name="baton.compat.pydantic_ai")
def pydantic_ai_task(prompt: str = PROMPT) -> dict[str, Any]:
    from pydantic_ai import Agent

    from workers.integrations.pydantic_ai import bedrock_model

    return _answer("pydantic_ai", Agent(bedrock_model()).run_sync(prompt).output)


@app.task(name="baton.compat.strands")
def strands_task(prompt: str = PROMPT) -> dict[str, Any]:
    from strands import Agent

    from workers.integrations.strands import bedrock_model

    agent = Agent(model=bedrock_model(max_tokens=MAX_TOKENS), callback_handler=None)
    return _answer("strands", str(agent(prompt)).strip())


@app.task(name="baton.compat.claude_code")
def claude_code_task() -> dict[str, Any]:
    """The real Claude Code CLI as a subagent: one ``claude -p`` turn in a fresh directory, with
    the environment ``claude_code_env()`` builds from the worker's own (trapped) one."""
    import tempfile

    from tests.compat.harness import QUIET, find_claude_cli, run_claude

    cli = find_claude_cli()
    if cli is None:
        return {"framework": "claude_code", "answer": None, "error": "no Claude Code CLI"}
    with tempfile.TemporaryDirectory(prefix="baton-claude-code-") as cwd:
        run = run_claude(cli, env=claude_code_env() | QUIET, cwd=cwd)
    return {
        "framework": "claude_code",
        "answer": run.answer(),
        "returncode": run.returncode,
        "timed_out": run.timed_out,
        "stderr": run.stderr[-2000:],
        "stdout": run.stdout[-2000:],
        "error": None,
    }


#: A child that prints the environment it was started with, as JSON.
_PRINT_ENV = "import json, os; print(json.dumps(dict(os.environ)))"


@app.task(name="baton.compat.claude_code_env")
def claude_code_env_task() -> dict[str, Any]:
    """Start a subprocess with ``claude_code_env()`` and return the environment it saw, with the
    wall-clock span of the subprocess so a test can tell which jobs' children overlapped."""
    import subprocess
    import sys
    import time

    env = claude_code_env()
    started = time.time()
    child = subprocess.run(
        [sys.executable, "-c", _PRINT_ENV],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    finished = time.time()
    return {
        "region": current_envelope().region,
        "env": json.loads(child.stdout),
        "span": [started, finished],
    }


def _naive(framework: str, call: Any) -> dict[str, Any]:
    """Run ``call`` and report its reply or its error: a naive call is expected to go astray."""
    try:
        return {"framework": framework, "text": str(call()), "error": None}
    except Exception as exc:  # the framework's own error type, whatever it is
        return {"framework": framework, "text": None, "error": f"{type(exc).__name__}: {exc}"}


@app.task(name="baton.compat.naive.anthropic")
def naive_anthropic_task() -> dict[str, Any]:
    from anthropic import AnthropicBedrock

    def call() -> object:
        return AnthropicBedrock(max_retries=0, timeout=10).messages.create(
            model=current_envelope().model_id,
            max_tokens=MAX_TOKENS,
            messages=[{"role": "user", "content": PROMPT}],
        )

    return _naive("anthropic", call)


@app.task(name="baton.compat.naive.langchain")
def naive_langchain_task() -> dict[str, Any]:
    from langchain_aws import ChatBedrockConverse

    def call() -> object:
        model = ChatBedrockConverse(
            model=current_envelope().model_id, max_tokens=MAX_TOKENS, max_retries=0
        )
        return model.invoke(PROMPT).content

    return _naive("langchain", call)


@app.task(name="baton.compat.naive.litellm")
def naive_litellm_task() -> dict[str, Any]:
    import litellm

    def call() -> object:
        return litellm.completion(
            model=f"bedrock/converse/{current_envelope().model_id}",
            messages=[{"role": "user", "content": PROMPT}],
            max_tokens=MAX_TOKENS,
            timeout=10,
        )

    return _naive("litellm", call)


@app.task(name="baton.compat.naive.pydantic_ai")
def naive_pydantic_ai_task() -> dict[str, Any]:
    from pydantic_ai import Agent
    from pydantic_ai.models.bedrock import BedrockConverseModel

    def call() -> object:
        return Agent(BedrockConverseModel(current_envelope().model_id)).run_sync(PROMPT).output

    return _naive("pydantic_ai", call)


@app.task(name="baton.compat.naive.strands")
def naive_strands_task() -> dict[str, Any]:
    from strands import Agent
    from strands.models import BedrockModel

    def call() -> object:
        model = BedrockModel(model_id=current_envelope().model_id, max_tokens=MAX_TOKENS)
        return Agent(model=model, callback_handler=None)(PROMPT)

    return _naive("strands", call)
