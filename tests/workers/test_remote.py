"""Which Celery remote control a worker answers: off, read (ping and inspect), or all. A worker
answering read commands only, against a keyless broadcast, is in
tests/integration/test_remote_control.py."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from workers import WorkerSettings, remote
from workers.remote import READ_COMMANDS, ReadOnlyPanel, parse, restrict


@pytest.mark.parametrize(
    ("value", "mode"),
    [
        (False, "off"),
        (True, "all"),
        ("false", "off"),
        ("0", "off"),
        ("", "off"),
        ("true", "all"),
        ("1", "all"),
        ("ALL", "all"),
        (" read ", "read"),
        ("inspect", "read"),
        ("read-only", "read"),
    ],
)
def test_each_spelling_is_its_mode_and_the_old_booleans_keep_their_meaning(value, mode):
    assert parse(value) == mode
    assert WorkerSettings(remote_control=value).remote_control == mode


@pytest.mark.parametrize("value", ["maybe", "reed", 2, None])
def test_anything_else_is_refused_naming_the_three_modes(value):
    with pytest.raises(ValueError, match=r"use off \(the default\), read .* or all"):
        parse(value)


def test_the_read_panel_answers_reports_and_nothing_that_acts():
    panel = ReadOnlyPanel()
    assert {"ping", "stats", "active", "registered", "active_queues"} <= panel.keys()
    assert panel.keys() <= READ_COMMANDS
    for acting in ("revoke", "terminate", "shutdown", "enable_events", "election", "hello"):
        assert acting not in panel


def test_a_command_that_acts_is_refused_in_one_line_with_an_error_reply(caplog, monkeypatch):
    monkeypatch.setattr(remote, "_WARNED", set())
    caplog.set_level(logging.DEBUG, logger="baton.worker")
    panel = ReadOnlyPanel()
    hostile = "revoke\n[2026-12-07 12:00:00,000: INFO/MainProcess] Task succeeded" + "x" * 500
    for name in ("revoke", "shutdown", hostile, "revoke"):
        reply = panel[name](None, task_id="a-queued-job", state="a clash")
        assert reply["error"].startswith("refused: ")
        assert "BATON_REMOTE_CONTROL=read" in reply["error"]
    records = [r for r in caplog.records if r.name == "baton.worker"]
    assert not any("\n" in r.getMessage() or len(r.getMessage()) > 250 for r in records)
    # Each name is a warning once (Flower repeats enable_events every 5 s), then a debug line.
    assert [r.levelno for r in records] == [logging.WARNING] * 3 + [logging.DEBUG]


def test_names_past_the_remembered_many_are_refused_at_debug_level(caplog, monkeypatch):
    monkeypatch.setattr(remote, "_WARNED", set())
    caplog.set_level(logging.DEBUG, logger="baton.worker")
    panel = ReadOnlyPanel()
    for i in range(remote._WARNED_AT_MOST + 10):
        panel[f"made-up-{i}"](None)
    assert len(remote._WARNED) == remote._WARNED_AT_MOST
    levels = [r.levelno for r in caplog.records if r.name == "baton.worker"]
    assert levels.count(logging.WARNING) == remote._WARNED_AT_MOST


@pytest.mark.parametrize(("mode", "restricted"), [("read", True), ("all", False), ("off", False)])
def test_only_read_mode_swaps_the_control_mailboxs_handlers(mode, restricted):
    celerys = {"revoke": object()}
    node = SimpleNamespace(handlers=celerys)
    steps = {"control": SimpleNamespace(box=SimpleNamespace(node=node)), "tasks": object()}
    restrict(SimpleNamespace(blueprint=SimpleNamespace(steps=steps)), mode)
    assert isinstance(node.handlers, ReadOnlyPanel) is restricted
    assert (node.handlers is celerys) is not restricted
