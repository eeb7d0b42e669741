"""Malformed request bodies get Bedrock's 400 ValidationException, never the emulator's 500.

The handler is called in-process with requests signed as botocore signs them, so a handler that
raised (which the server turns into a 500) fails the test with its traceback.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY
from emulator.access import AccessPolicy, RegionPolicy
from emulator.bodies import find_lone_surrogate, load_object
from emulator.errors import ValidationError
from emulator.faults import FaultInjector
from emulator.journal import Journal
from emulator.profiles import ProfileRegistry
from emulator.server import Headers, Request, Response
from emulator.service import BedrockService
from tests.support.quick_loop import examples

EU_PROFILE = "eu.anthropic.claude-sonnet-4-20250514-v1:0"
SEGMENTS = {
    "Converse": "converse",
    "ConverseStream": "converse-stream",
    "InvokeModel": "invoke",
    "InvokeModelWithResponseStream": "invoke-with-response-stream",
}
CREDENTIALS = Credentials(TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY)
LONE_SURROGATE_TEXT = b'[{"role":"user","content":[{"text":"hi \\ud800 there"}]}]'
TASK_TOOLS = {"tools": [{"toolSpec": {"name": "Task", "inputSchema": {"json": {}}}}]}


def make_service() -> BedrockService:
    profiles = ProfileRegistry()
    return BedrockService(
        policy=AccessPolicy(RegionPolicy.of({"eu-west-1"}).document(), profiles),
        journal=Journal(),
        faults=FaultInjector(),
        profiles=profiles,
    )


SERVICE = make_service()  # stateless but for its journal, which nothing here reads


def call(operation: str, body: bytes, *, service: BedrockService = SERVICE) -> Response:
    """Sign ``body`` for ``operation`` as botocore does and answer it in-process."""
    path = f"/model/{EU_PROFILE.replace(':', '%3A')}/{SEGMENTS[operation]}"
    request = AWSRequest(
        method="POST", url=f"http://127.0.0.1{path}", data=body, headers={"Host": "127.0.0.1"}
    )
    SigV4Auth(CREDENTIALS, "bedrock", "eu-west-1").add_auth(request)
    headers = Headers({name.lower(): str(value) for name, value in request.headers.items()})
    return service(Request("POST", path, "", headers, body))


def converse_body(messages: bytes) -> bytes:
    return b'{"messages":' + messages + b"}"


def invoke_body(messages: bytes) -> bytes:
    return (
        b'{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"messages":' + messages + b"}"
    )


def body_for(operation: str, messages: bytes) -> bytes:
    return (converse_body if operation.startswith("Converse") else invoke_body)(messages)


def assert_validation_exception(response: Response, *fragments: str) -> str:
    """Assert Bedrock's 400 shape and return its message."""
    assert response.status == 400, response.body
    assert dict(response.headers)["x-amzn-ErrorType"] == "ValidationException"
    message = json.loads(response.body)["message"]
    for fragment in fragments:
        assert fragment in message
    return str(message)


# --- the lone surrogate --------------------------------------------------------------------------


@pytest.mark.parametrize("operation", list(SEGMENTS))
def test_a_lone_surrogate_in_a_prompt_is_a_400_validation_exception(operation):
    response = call(operation, body_for(operation, LONE_SURROGATE_TEXT))

    assert_validation_exception(response, "#/messages/0/content/0/text", "U+D800")


@pytest.mark.parametrize("operation", list(SEGMENTS))
def test_a_surrogate_pair_is_one_character_and_is_answered(operation):
    emoji = b'[{"role":"user","content":[{"text":"smile \\ud83d\\ude00"}]}]'

    response = call(operation, body_for(operation, emoji))

    assert response.status == 200


def test_a_lone_surrogate_anywhere_in_the_body_is_refused_even_if_never_echoed():
    body = b'{"messages":[{"role":"user","content":[{"text":"hi"}]}],"system":[{"text":"\\udc00"}]}'

    assert_validation_exception(call("Converse", body), "#/system/0/text", "U+DC00")


def test_boto3_sends_a_lone_surrogate_escaped_and_gets_a_validation_exception(
    emulator, make_client
):
    client = make_client(emulator)

    with pytest.raises(ClientError) as caught:
        client.converse(
            modelId=EU_PROFILE, messages=[{"role": "user", "content": [{"text": "\ud800"}]}]
        )

    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


# --- other malformed text and JSON ---------------------------------------------------------------


def scripted(text: str) -> bytes:
    messages = [{"role": "user", "content": [{"text": text}]}]
    return json.dumps({"messages": messages, "toolConfig": TASK_TOOLS}).encode()


MALFORMED_BODIES = {
    "invalid UTF-8": (b'{"messages":[{"role":"user","content":[{"text":"\xff"}]}]}', "UTF-8"),
    "UTF-8 encoded surrogate": (
        converse_body(b'[{"role":"user","content":"\xed\xa0\x80"}]'),
        "UTF-8",
    ),
    "UTF-16": ('{"messages":[]}'.encode("utf-16"), "UTF-8"),
    "not an object": (b'["messages"]', "expected type: JSONObject"),
    "a bare string": (b'"hello"', "expected type: JSONObject"),
    "NaN": (b'{"messages":NaN}', "not valid JSON"),
    "nested too deep": (b"[" * 100_000, "not valid JSON"),
    "messages not a list": (b'{"messages":{"role":"user"}}', "required key [messages]"),
    "content not a list": (b'{"messages":[{"role":"user","content":"hi"}]}', "JSONArray"),
    "toolResult content not a list": (
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": [{"text": "hi"}]},
                    {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1"}}]},
                    {
                        "role": "user",
                        "content": [{"toolResult": {"toolUseId": "t1", "content": 7}}],
                    },
                ],
                "toolConfig": TASK_TOOLS,
            }
        ).encode(),
        "toolResult/content: expected type: JSONArray",
    ),
    "lone surrogate in a directive": (
        scripted('<<task {"description": "d", "prompt": "\\ud800"}>>'),
        "not valid Unicode",
    ),
    "directive JSON nested too deep": (scripted("<<task " + "[" * 5_000 + ">>"), "does not decode"),
    "tree count too long for int()": (
        scripted(f"<<tree depth={'9' * 5_000} width=1>>"),
        "more than 9 digits",
    ),
}


@pytest.mark.parametrize(
    ("body", "fragment"), list(MALFORMED_BODIES.values()), ids=list(MALFORMED_BODIES)
)
def test_a_malformed_converse_body_is_a_400_validation_exception(body, fragment):
    assert_validation_exception(call("Converse", body), fragment)


def test_the_refusal_of_a_surrogate_key_can_itself_be_encoded():
    where = find_lone_surrogate({"messages": [{"\ud800": "x"}]})

    assert where is not None and where.isascii()


def test_load_object_returns_the_object_of_a_well_formed_body():
    assert load_object('{"text": "naïve ’quotes’"}'.encode()) == {"text": "naïve ’quotes’"}
    with pytest.raises(ValidationError):
        load_object(b'{"text": "\\udfff"}')


# --- never a 500 ---------------------------------------------------------------------------------

#: Any text, lone surrogates included, and directives. Hypothesis draws no surrogate unless
#: asked, and st.text() over a union of alphabets drops them again, hence the join.
_CHARACTERS = st.characters() | st.characters(categories=["Cs"])
_TEXT = st.lists(_CHARACTERS, max_size=12).map("".join) | st.sampled_from(
    [
        '<<task {"description": "d", "prompt": "p"}>>',
        '<<task {"description": "d", "prompt": "\\ud800"}>>',
        "<<tree depth=2 width=2>>",
        "<<tree depth=99999999999 width=1>>",
        "<<tool Read {}>>",
        "<<tool Read [1]>>",
        "<<loop>>",
    ]
)
_ANY = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=8,
)
_IDS = st.sampled_from(["a", "b"])
_TOOL_RESULT = st.fixed_dictionaries(
    {"toolUseId": _IDS},
    optional={"content": st.lists(st.fixed_dictionaries({"text": _TEXT})) | _ANY, "status": _ANY},
)
_BLOCK = st.one_of(
    st.fixed_dictionaries({"text": _TEXT}),
    st.fixed_dictionaries({"text": _TEXT}),
    st.fixed_dictionaries({"toolUse": st.fixed_dictionaries({"toolUseId": _IDS, "input": _ANY})}),
    st.fixed_dictionaries({"toolResult": _TOOL_RESULT}),
    _ANY,
)
#: Where a body is broken, if at all: mostly well formed, so the answers are reached too.
_BREAKAGES = ("none", "none", "none", "role", "content", "messages", "document")


@st.composite
def request_bodies(draw: st.DrawFn) -> bytes:
    """Converse and Anthropic Messages bodies, often well formed, else broken in one place."""
    messages: list[Any] = [
        {"role": ("user", "assistant")[index % 2], "content": draw(st.lists(_BLOCK, max_size=3))}
        for index in range(draw(st.integers(1, 4)))
    ]
    body: dict[str, Any] = {
        "messages": messages,
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 10,
    }
    if draw(st.booleans()):
        body["toolConfig"] = TASK_TOOLS
    if draw(st.booleans()):
        body["system"] = draw(st.lists(st.fixed_dictionaries({"text": _TEXT}), max_size=2))
    breakage = draw(st.sampled_from(_BREAKAGES))
    target = messages[draw(st.integers(0, len(messages) - 1))]
    if breakage in ("role", "content"):
        target[breakage] = draw(_ANY)
    elif breakage == "messages":
        body[draw(st.sampled_from(sorted(body)))] = draw(_ANY)
    document = draw(_ANY) if breakage == "document" else body
    encoded = json.dumps(document, ensure_ascii=draw(st.booleans()))
    return encoded.encode("utf-8", "surrogatepass")  # a raw surrogate is malformed UTF-8


@settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operation=st.sampled_from(list(SEGMENTS)), body=request_bodies() | st.binary(max_size=64))
def test_no_request_body_makes_the_emulator_answer_500(operation, body):
    response = call(operation, body)

    assert response.status in (200, 400), response.body
