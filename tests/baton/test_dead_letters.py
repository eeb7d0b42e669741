"""``baton dead-letters list|replay|purge`` in-process, over dead letters on fakeredis.

The commands as a process, against refusals by real workers, are in tests/integration.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery
from click.testing import CliRunner, Result

from baton.cli import main
from envelope import TASK_NAME
from tests.support.fake_redis import FakeRedisServer
from workers.dead_letters import DeadLetters

QUEUE = "baton.eu-west-1"


def record(number: int) -> dict[str, Any]:
    """A dead letter as a worker writes it, trimmed to what the commands read."""
    return {
        "id": f"dead-{number}",
        "job_id": f"job-{number}",
        "task": TASK_NAME,
        "reason": "region_not_allowed",
        "message": f"region us-east-1 is not allowed (job {number})",
        "time": "2026-12-03T10:00:00+00:00",
        "envelope": {"region": "us-east-1"},
        "queue": QUEUE,
        "args": [],
        "kwargs": {"prompt": f"job {number}"},
        "token": f"v1.token-{number}.mac",
    }


@pytest.fixture()
def store(fake_redis: FakeRedisServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[DeadLetters]:
    """Two dead letters on the broker the commands read."""
    app = Celery("dead-letters-cli-test", broker=fake_redis.url(0), set_as_current=False)
    letters = DeadLetters(app)
    for number in (1, 2):
        letters.record(record(number))
    monkeypatch.setattr("baton.dead_letters._dead_letter_store", lambda: letters)
    yield letters
    app.close()


def baton(*args: str) -> Result:
    return CliRunner().invoke(main, ["dead-letters", *args])


def test_list_shows_one_line_per_record_oldest_first_and_a_count(store):
    result = baton("list")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["dead-1", "dead-2"]
    assert "us-east-1  region_not_allowed: region us-east-1 is not allowed (job 1)" in lines[0]
    assert result.stderr.strip() == "2 dead letter(s)"
    assert len(store.entries()) == 2


def test_list_json_gives_the_records_without_their_tokens(store):
    result = baton("list", "--json")

    listed = json.loads(result.stdout)
    assert [r["id"] for r in listed] == ["dead-1", "dead-2"]
    assert all("token" not in r for r in listed)
    assert "v1.token-1" not in result.stdout


def test_replay_of_one_id_republishes_it_and_leaves_the_other(store, fake_redis):
    result = baton("replay", "--id", "dead-2")

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"replayed dead-2 (job job-2, {TASK_NAME})"
    assert [r["id"] for r in store.entries()] == ["dead-1"]
    [message] = fake_redis.client(0).lrange(QUEUE, 0, -1)
    assert json.loads(message)["headers"]["id"] == "job-2"


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["replay"], "name records with --id, or pass --all"),
        (["purge"], "pass --yes to confirm"),
    ],
)
def test_replay_and_purge_without_their_target_change_nothing_and_exit_2(store, args, complaint):
    result = baton(*args)

    assert result.exit_code == 2
    assert complaint in result.stderr
    assert len(store.entries()) == 2


def test_purge_yes_drops_every_record(store):
    result = baton("purge", "--yes")

    assert result.stdout.strip() == "purged 2 dead letter(s)"
    assert store.entries() == []


def test_a_job_id_or_message_with_control_characters_is_shown_escaped(store):
    hostile = record(3) | {"job_id": "j\n\x1b[2Jfaked", "message": "m\r\nforged line"}
    store.record(hostile)

    listed, replayed = baton("list"), baton("replay", "--id", "dead-3")

    assert "\x1b" not in listed.output + replayed.output
    assert "m\\r\\nforged line" in listed.output
    assert "job j\\n\\x1b[2Jfaked" in replayed.output
    assert len(listed.output.splitlines()) == 4  # three records and the count
