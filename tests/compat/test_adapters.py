"""The framework adapters refuse what would undo the envelope, before building anything.

No worker here: outside a job each adapter raises ``EnvelopeMissing`` rather than fall back to
this process's defaults, and an argument the envelope decides is a ``TypeError`` whether or not
a job is running.
"""

from __future__ import annotations

import pytest

from envelope import EnvelopeMissing
from tests.compat.harness import require_frameworks
from workers import WorkerMisconfigured
from workers.integrations import langchain, litellm, pydantic_ai, strands

pytestmark = pytest.mark.compat

require_frameworks()

BUILDERS = {
    "langchain": langchain.chat_model,
    "litellm": litellm.completion_kwargs,
    "pydantic_ai": pydantic_ai.bedrock_model,
    "strands": strands.bedrock_model,
}

#: One argument per adapter that would move the call away from the envelope.
PINNED = {
    "langchain": {"region_name": "us-east-1"},
    "litellm": {"api_key": None},
    "pydantic_ai": {"provider": "bedrock"},
    "strands": {"endpoint_url": "https://bedrock-runtime.us-east-1.amazonaws.com"},
}


@pytest.mark.parametrize("framework", sorted(BUILDERS))
def test_an_adapter_outside_a_job_raises_envelope_missing(framework):
    with pytest.raises(EnvelopeMissing):
        BUILDERS[framework]()


@pytest.mark.parametrize("framework", sorted(BUILDERS))
def test_an_adapter_refuses_an_argument_the_envelope_decides(framework):
    (name,) = PINNED[framework]
    with pytest.raises(TypeError, match=f"{name} come from the job's envelope"):
        BUILDERS[framework](**PINNED[framework])


@pytest.mark.parametrize("variable", litellm.IDENTITY_VARIABLES)
def test_litellm_kwargs_refuse_a_worker_whose_litellm_identity_variable_would_win(
    monkeypatch, variable
):
    monkeypatch.setenv(variable, "")  # set but empty still wins: LiteLLM tests `is None`

    with pytest.raises(WorkerMisconfigured, match=f"{variable} is set on this worker"):
        litellm.completion_kwargs()
