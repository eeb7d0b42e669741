"""ops/redis/users.acl: the broker, the result backend and KEDA as separate Redis ACL users
(issue 24). Parsed here; ``tests/integration/test_redis_acl.py`` runs a fleet through it.

Each side's keys come from the code that writes them, so a new key that one side needs and the
other may not reach is checked against the file without anyone remembering to list it.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

import pytest

from envelope import job_lock_key, queue_for, recovered_key
from envelope.constants import CHILD_JOBS_KEY_PREFIX, ROOT_JOBS_KEY_PREFIX
from fleet.ledger import (
    CURSOR_KEY,
    LEDGER_INDEX_KEY,
    LEDGER_KEY,
    RECOVERIES_KEY,
    SUSPECTS_KEY,
)
from tests.ops.fleet import COMPOSE_FILE, ROOT
from workers.dead_letters import DEAD_LETTER_QUEUE
from workers.delivery import guard
from workers.delivery.budget import KEY_PREFIX as BUDGET_PREFIX
from workers.delivery.budget import RESERVATION_PREFIX

ACL_FILE = ROOT / "ops" / "redis" / "users.acl"

#: Keys the broker side writes: queues (and kombu's priority lists), kombu's records, the ledger.
BROKER_KEYS = (
    queue_for("eu-west-1"),
    queue_for("eu-west-1") + "\x06\x163",
    DEAD_LETTER_QUEUE,
    LEDGER_KEY,
    LEDGER_INDEX_KEY,
    SUSPECTS_KEY,
    RECOVERIES_KEY,
    CURSOR_KEY,
    "unacked",
    "unacked_index",
    "unacked_mutex",
    "_kombu.binding.baton.eu-west-1",
)

#: Keys the backend side writes: results, chord counters, budgets, locks, marks, tree lists.
BACKEND_KEYS = (
    "celery-task-meta-4f1c",
    "celery-taskset-meta-4f1c.j",
    BUDGET_PREFIX + "root-1",
    RESERVATION_PREFIX + "root-1",
    job_lock_key("job-1"),
    recovered_key("job-1"),
    guard._handoff_key("job-1"),
    ROOT_JOBS_KEY_PREFIX + "root-1",
    CHILD_JOBS_KEY_PREFIX + "job-1",
)


def users(path: Path = ACL_FILE) -> dict[str, list[str]]:
    found = {}
    for line in path.read_text().splitlines():
        words = line.split()
        assert words[0] == "user", f"an ACL file holds only user lines: {line!r}"
        found[words[1]] = words[2:]
    return found


def key_patterns(rules: list[str]) -> list[str]:
    return [rule.lstrip("%RW").removeprefix("~") for rule in rules if "~" in rule[:3]]


def reaches(rules: list[str], key: str) -> bool:
    return any(fnmatch.fnmatchcase(key, pattern) for pattern in key_patterns(rules))


def test_the_broker_user_reaches_every_broker_key_and_no_backend_key():
    broker = users()["baton-broker"]
    assert [key for key in BROKER_KEYS if not reaches(broker, key)] == []
    assert [key for key in BACKEND_KEYS if reaches(broker, key)] == []


def test_the_backend_user_reaches_every_backend_key_and_no_broker_key():
    backend = users()["baton-backend"]
    assert [key for key in BACKEND_KEYS if not reaches(backend, key)] == []
    assert [key for key in BROKER_KEYS if reaches(backend, key)] == []


def test_keda_may_only_read_the_length_of_the_queues():
    keda = users()["baton-keda"]
    commands = [rule for rule in keda if rule[0] in "+-"]
    assert commands == ["-@all", "+llen", "+ping", "+select"]
    assert key_patterns(keda) == ["baton.*"]
    assert "%R~baton.*" in keda  # read-only


def test_the_unauthenticated_default_user_may_only_ping_and_no_user_holds_everything():
    found = users()
    default = found["default"]
    assert [rule for rule in default if rule[0] in "+-"] == ["-@all", "+ping"]
    assert key_patterns(default) == []
    for name, rules in found.items():
        assert "~*" not in rules and "allkeys" not in rules, name
        assert "+@all" not in rules or ("-@admin" in rules and "-@dangerous" in rules), name
        assert "resetkeys" in rules and "resetchannels" in rules, name


@pytest.mark.parametrize("user", ["baton-broker", "baton-backend", "baton-keda"])
def test_every_password_is_a_placeholder_filled_in_at_start(user):
    passwords = [rule for rule in users()[user] if rule.startswith(">")]
    assert passwords == [f">@BATON_REDIS_{user.split('-')[1].upper()}_PASSWORD@"]


def interpolated_url(url: str) -> SplitResult:
    """A compose URL, its ``${...}`` interpolations read as the value they will hold."""
    return urlsplit(re.sub(r"\$\{([A-Z_]+)[^}]*\}", r"\1", url))


def test_compose_gives_the_broker_and_the_backend_their_own_users(compose):
    services = compose["services"]
    env = services["worker-eu"]["environment"]
    broker = interpolated_url(env["BATON_BROKER_URL"])
    backend = interpolated_url(env["BATON_RESULT_BACKEND"])
    assert (broker.username, backend.username) == ("baton-broker", "baton-backend")
    assert (broker.password, backend.password) == (
        "BATON_REDIS_BROKER_PASSWORD",
        "BATON_REDIS_BACKEND_PASSWORD",
    )
    assert broker.hostname == backend.hostname == "redis"
    flower = interpolated_url(services["flower"]["environment"]["CELERY_BROKER_URL"])
    assert flower.username == "baton-broker"  # Flower watches; it reaches no result
    redis = services["redis"]
    assert "--aclfile" in redis["command"]
    assert any(v.startswith("./ops/redis/users.acl:") for v in redis["volumes"])
    assert "users.acl" in COMPOSE_FILE.read_text()
