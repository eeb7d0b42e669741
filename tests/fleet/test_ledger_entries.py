"""Ledger entries and kombu's unacknowledged records, as anyone who writes the broker may write
them (issue 24, finding 3): what is not a Baton task message of its own tag is recognised."""

from __future__ import annotations

import json

import pytest

from fleet.ledger_entries import is_task_message, lost_message, unacked_message
from tests.fleet.test_ledger import QUEUE, message


@pytest.mark.parametrize(
    "raw",
    ["not json", "[1, 2]", json.dumps({"headers": {}}), message("job-1", "another-tag")],
)
def test_a_lost_entry_whose_message_is_not_its_task_message_is_not_put_back(raw, caplog):
    assert lost_message("tag-1", raw) is None
    assert "ledger entry 'tag-1' dropped" in caplog.text
    assert lost_message("tag-1", message()) is not None


@pytest.mark.parametrize(
    "stored", [b"not json", b"{}", b"[1, 2]", b'["m", "", "q"]', b'[{}, 1, "q"]', b"\xff"]
)
def test_an_unreadable_unacknowledged_record_is_recognised(stored):
    assert unacked_message(stored) is None
    assert unacked_message(json.dumps([{"a": 1}, "", QUEUE])) == ({"a": 1}, "", QUEUE)


@pytest.mark.parametrize(
    "message",
    [[], "x", {"headers": [1], "properties": {}}, {"headers": {"id": "a"}, "properties": "x"}],
)
def test_anything_but_a_task_message_is_not_one_and_raises_nothing(message):
    assert not is_task_message(message)
