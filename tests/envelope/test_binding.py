"""One envelope, one message: the binding admits the message it was made for and no copy."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any

import pytest
from kombu.serialization import dumps, loads

from envelope import HEADER_KEY, EnvelopeBindingInvalid, encode
from envelope.binding import BINDING_KEY, EMBEDDED, bind_message, check_binding
from tests.factories import keyring, make_envelope

TOKEN = encode(make_envelope(), keyring=keyring())
LINK = {"task": "user.notify", "args": [], "kwargs": {}, "options": {}, "subtask_type": None}


def published(
    *, job_id: str = "job-1", task: str = "user.summarize", args: Any = ("a",), **embed: Any
) -> tuple[dict[str, Any], tuple[Any, Any, Any]]:
    headers: dict[str, Any] = {"id": job_id, "task": task, HEADER_KEY: TOKEN}
    body = (args, {"n": 1}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None})
    body[2].update(embed)
    bind_message(keyring(), headers, body, TOKEN)
    return headers, body


def check(headers: dict[str, Any], body: Any, *, job_id: str = "job-1", task: str = "") -> None:
    args, kwargs, embed = body
    check_binding(
        keyring(),
        kid="default",
        token=headers[HEADER_KEY],
        binding=headers.get(BINDING_KEY),
        task_id=job_id,
        task_name=task or headers["task"],
        args=args,
        kwargs=kwargs,
        embedded=[embed.get(name) for name in EMBEDDED],
    )


def over_the_wire(body: Any) -> Any:
    """The body as a worker decodes it after kombu's JSON serializer carried it."""
    content_type, encoding, data = dumps(body, serializer="json")
    return loads(data, content_type, encoding)


def test_the_message_it_was_made_for_is_admitted_after_the_broker_carried_it():
    args = (
        "a",
        dt.datetime(2026, 12, 3, 7, 0, tzinfo=dt.UTC),
        uuid.uuid4(),
        decimal.Decimal("1.5"),
    )
    headers, body = published(args=args, callbacks=[LINK])
    check(headers, over_the_wire(body))


@pytest.mark.parametrize(
    "forgery",
    ["new_job_id", "same_id_new_arguments", "another_task", "another_callback", "no_binding"],
)
def test_the_same_header_on_any_other_message_is_refused(forgery: str):
    headers, body = published()
    args, kwargs, embed = over_the_wire(body)
    job_id, task = "job-1", headers["task"]
    if forgery == "new_job_id":
        job_id = "job-2"
    elif forgery == "same_id_new_arguments":
        args = ["rm -rf"]
    elif forgery == "another_task":
        task = "baton.subagent"
    elif forgery == "another_callback":
        embed["callbacks"] = [LINK]
    else:
        headers.pop(BINDING_KEY)
    with pytest.raises(EnvelopeBindingInvalid, match="made for another message"):
        check(headers, (args, kwargs, embed), job_id=job_id, task=task)


def test_a_token_of_a_key_this_process_lacks_is_left_as_it_is():
    other = encode(make_envelope(kid="other"), keyring=keyring("other"))
    headers = {"id": "j", "task": "t", BINDING_KEY: "kept"}
    bind_message(keyring(), headers, ((), {}, {}), other)
    assert headers[BINDING_KEY] == "kept"


def test_a_binding_is_bound_to_the_token_too():
    headers, body = published()
    headers[HEADER_KEY] = encode(make_envelope(region="eu-central-1"), keyring=keyring())
    with pytest.raises(EnvelopeBindingInvalid):
        check(headers, over_the_wire(body))


def covered_check(headers: dict[str, Any], **field: Any) -> None:
    """Check the binding of a ``headers`` message with no arguments, as it is or with ``field``
    (``group``, ``retries``, ``expires``) as a worker would read it."""
    check_binding(
        keyring(),
        kid="default",
        token=TOKEN,
        binding=headers[BINDING_KEY],
        task_id="job-1",
        task_name="user.charge",
        args=[],
        kwargs={"n": 1},
        embedded=[None] * 4,
        **field,
    )


@pytest.mark.parametrize(
    ("headers", "field", "as_sent", "edits", "refusal"),
    [
        (  # a chord member's group and index
            {"group": "chord-a", "group_index": 1},
            "group",
            ["chord-a", 1],
            (["chord-b", 1], ["chord-a", 0], ["chord-a", None]),
            "another chord",
        ),
        (  # a retried message's count (a retry is bound anew, with its count)
            {"retries": 2, BINDING_KEY: "the first delivery's"},
            "retries",
            2,
            (0, 1, 3, "2"),
            "made for another message",
        ),
        (  # Celery's expiry
            {"expires": "2026-12-06T21:00:00+00:00"},
            "expires",
            "2026-12-06T21:00:00+00:00",
            (None, "2026-12-06T20:00:00+00:00", "2026-12-06 21:00:00+00:00"),
            "made for another message",
        ),
    ],
    ids=["group", "retries", "expires"],
)
def test_a_covered_field_is_admitted_as_sent_and_an_edit_is_refused(
    headers: dict[str, Any], field: str, as_sent: Any, edits: tuple[Any, ...], refusal: str
):
    sent: dict[str, Any] = {"id": "job-1", "task": "user.charge", HEADER_KEY: TOKEN, **headers}
    body = ((), {"n": 1}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None})
    bind_message(keyring(), sent, body, TOKEN)

    covered_check(sent, **{field: as_sent})
    for edited in edits:
        with pytest.raises(EnvelopeBindingInvalid, match=refusal):
            covered_check(sent, **{field: edited})


@pytest.mark.parametrize(
    "neutral",
    [{"group": None, "group_index": None}, {"retries": 0}, {"expires": None}],
    ids=["no-group", "first-delivery", "no-expiry"],
)
def test_a_message_without_a_covered_field_is_bound_as_before_the_field_was_covered(
    neutral: dict[str, Any],
):
    headers, body = published()
    unchanged = {**headers, **neutral}
    del unchanged[BINDING_KEY]
    bind_message(keyring(), unchanged, body, TOKEN)
    assert unchanged[BINDING_KEY] == headers[BINDING_KEY]
    check(headers, body)


def test_binding_group_reads_a_requests_group_and_index_or_none():
    from types import SimpleNamespace

    from envelope import binding_group

    assert binding_group(SimpleNamespace(group="g", group_index=2)) == ["g", 2]
    assert binding_group(SimpleNamespace(group=None, group_index=None)) is None
    assert binding_group(SimpleNamespace()) is None


def test_binding_retries_reads_a_requests_retry_count_or_zero():
    from types import SimpleNamespace

    from envelope import binding_retries

    assert binding_retries(SimpleNamespace(retries=3)) == 3
    assert binding_retries(SimpleNamespace(retries=None)) == 0
    assert binding_retries(SimpleNamespace()) == 0
