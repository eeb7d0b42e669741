"""The refusal of a task a worker never imported: the ``--include`` it lacks, quoted safely."""

from __future__ import annotations

from workers.consumer import not_registered


def test_the_refusal_names_the_module_to_include_the_queue_and_the_dead_letter():
    text = not_registered("myapp.tasks.summarize", queue="baton.eu-west-1", dead_letter="d1")
    assert text.startswith("task myapp.tasks.summarize is not registered on this worker")
    assert "every worker consuming baton.eu-west-1 must import the module" in text
    assert "`--include myapp.tasks`" in text
    assert "`baton dead-letters replay --id d1`" in text


def test_a_name_with_no_module_asks_for_the_module_that_defines_it():
    text = not_registered("summarize", queue=None, dead_letter="d1")
    assert "`--include <the module that defines it>`" in text


def test_a_name_that_is_no_python_name_is_quoted_short_and_never_as_a_module():
    hostile = "x; rm -rf / `whoami`" + "a" * 500
    text = not_registered(hostile, queue="baton.eu-west-1", dead_letter="d1")
    assert "--include" not in text and "whoami" in text
    assert len(text) < 250
