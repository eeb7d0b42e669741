"""The CLI's consoles: piped output is wide enough that an ARN or a model ID stays on one line."""

from __future__ import annotations

from baton.console import PIPED_WIDTH, console

ARN = (
    "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/"
    "eu.anthropic.claude-sonnet-4-20250514-v1:0"
)


def test_piped_output_keeps_a_long_arn_on_one_line(monkeypatch, capsys):
    monkeypatch.delenv("COLUMNS", raising=False)
    out = console()
    assert out.width == PIPED_WIDTH
    out.print(f"resource: {ARN}")
    assert f"resource: {ARN}\n" in capsys.readouterr().out


def test_columns_set_by_the_user_wins(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    assert console().width == 100
    assert console(stderr=True).width == 100
