"""Worker metrics: every label comes from a closed set, so outside values cannot grow series."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from prometheus_client import REGISTRY

from envelope import EnvelopeExpired, EnvelopeMissing
from workers import metrics
from workers.errors import AgentDefinitionInvalid, RegionNotAllowed

#: Distinct outside values fed to each label: the number of series the finding measured.
DISTINCT = 2_000


def series(name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Read every series of the counter ``name`` from the process's registry, by its labels."""
    found = {}
    for family in REGISTRY.collect():
        for sample in family.samples:
            if sample.name == f"{name}_total":
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def call_error(code: object) -> dict[str, object]:
    """What botocore's ``after-call`` hands an observer for a call that failed with ``code``."""
    return {"Error": {"Code": code, "Message": "refused"}, "ResponseMetadata": {}}


def test_two_thousand_distinct_error_codes_stay_a_bounded_number_of_series():
    before = series("baton_bedrock_calls")

    for index in range(DISTINCT):
        metrics.observe_bedrock_call(
            region="eu-west-1", http_response=None, parsed=call_error(f"Forged{index}Exception")
        )

    after = series("baton_bedrock_calls")
    new = set(after) - set(before)
    assert len(new) <= 1
    assert {dict(labels)["code"] for labels in after} <= metrics.BEDROCK_ERROR_CODES | {
        "ok",
        "other",
    }
    other = (("code", "other"), ("region", "eu-west-1"))
    assert after[other] - before.get(other, 0) == DISTINCT


@pytest.mark.parametrize("code", sorted(metrics.BEDROCK_ERROR_CODES))
def test_a_known_bedrock_error_code_is_its_own_series(code):
    metrics.observe_bedrock_call(region="eu-west-1", http_response=None, parsed=call_error(code))

    assert series("baton_bedrock_calls")[(("code", code), ("region", "eu-west-1"))] >= 1


def test_a_call_without_an_error_is_counted_as_ok():
    key = (("code", "ok"), ("region", "eu-west-1"))
    before = series("baton_bedrock_calls").get(key, 0)

    metrics.observe_bedrock_call(region="eu-west-1", http_response=None, parsed={"output": {}})
    metrics.observe_bedrock_call(region="eu-west-1", http_response=None, parsed=None)

    assert series("baton_bedrock_calls")[key] - before == 2


def test_an_error_code_that_is_not_text_is_other_not_a_crash():
    key = (("code", "other"), ("region", "eu-west-1"))
    before = series("baton_bedrock_calls").get(key, 0)

    metrics.observe_bedrock_call(region="eu-west-1", http_response=None, parsed=call_error(["x"]))

    assert series("baton_bedrock_calls")[key] - before == 1


#: For each counter fed from outside: its name, the label that is fed, and its other labels.
OUTSIDE_LABELS: dict[str, tuple[str, str, dict[str, str]]] = {
    "call region": ("baton_bedrock_calls", "region", {"code": "ok"}),
    "job region": ("baton_jobs", "region", {"outcome": "success"}),
    "job outcome": ("baton_jobs", "outcome", {"region": "eu-west-1"}),
    "refusal reason": ("baton_envelope_refusals", "reason", {}),
    "cache event": ("baton_client_cache", "event", {}),
    "throttled model": ("baton_bedrock_throttled", "model", {"region": "eu-west-1"}),
    "throttled region": (
        "baton_bedrock_throttled",
        "region",
        {"model": "eu.anthropic.claude-sonnet-4-20250514-v1:0"},
    ),
}
COUNTERS = {
    "baton_bedrock_calls": metrics.BEDROCK_CALLS,
    "baton_jobs": metrics.JOBS,
    "baton_envelope_refusals": metrics.REFUSALS,
    "baton_client_cache": metrics.CLIENT_CACHE,
    "baton_bedrock_throttled": metrics.THROTTLED,
}


@pytest.mark.parametrize(("name", "label", "fixed"), OUTSIDE_LABELS.values(), ids=OUTSIDE_LABELS)
def test_two_thousand_distinct_values_of_any_label_stay_bounded(name, label, fixed):
    before = series(name)

    for index in range(DISTINCT):
        COUNTERS[name].labels(**fixed, **{label: f"forged-{index}"}).inc()

    after = series(name)
    assert len(set(after) - set(before)) <= 1
    other = tuple(sorted({**fixed, label: "other"}.items()))
    assert after[other] - before.get(other, 0) == DISTINCT


def test_job_seconds_histogram_labels_are_closed_too():
    metrics.JOB_SECONDS.labels(region="not a region").observe(1.0)
    metrics.JOB_SECONDS.labels("eu-west-1").observe(1.0)

    regions = {
        sample.labels.get("region")
        for family in REGISTRY.collect()
        for sample in family.samples
        if sample.name == "baton_job_seconds_count"
    }
    assert "not a region" not in regions
    assert {"other", "eu-west-1"} <= regions


def test_a_job_finished_in_a_forged_region_with_a_forged_outcome_counts_as_other():
    key = (("outcome", "other"), ("region", "other"))
    before = series("baton_jobs").get(key, 0)

    metrics.job_finished(region="EU-WEST-1; drop", outcome="exploded", seconds=0.1)

    assert series("baton_jobs")[key] - before == 1


LABELS: dict[str, tuple[Callable[[str], str], list[str], list[str]]] = {
    "region": (
        metrics.region_label,
        ["eu-west-1", "us-gov-west-1", "ap-southeast-4", "unknown"],
        ["", "EU-WEST-1", "eu-west-1 ", "eu-west-١", "moon-base-1x", "a" * 10_000],
    ),
    "code": (
        metrics.code_label,
        ["ok", "ThrottlingException", "AccessDeniedException"],
        ["200", "throttlingexception", "Throttling", "x" * 1_000],
    ),
    "reason": (
        metrics.reason_label,
        [EnvelopeMissing.code, EnvelopeExpired.code, RegionNotAllowed.code],
        ["", "envelope_forged", "Envelope_Missing"],
    ),
    "outcome": (
        metrics.outcome_label,
        ["success", "failure", "handed_on", "refused"],
        ["", "ok", "exploded"],
    ),
    "event": (metrics.event_label, ["hit", "miss", "eviction"], ["", "flush"]),
    "model": (
        metrics.model_label,
        [
            "anthropic.claude-sonnet-4-20250514-v1:0",
            "eu.anthropic.claude-sonnet-4-20250514-v1:0",
            "global.anthropic.claude-sonnet-4-20250514-v1:0",
        ],
        [
            "",
            "sonnet",
            "eu.forged-model",
            "arn:aws:bedrock:eu-west-1:1:application-inference-profile/x",
        ],
    ),
}


def test_the_quota_rate_gauge_and_wait_histogram_labels_are_closed_too():
    metrics.QUOTA_RATE.labels(region="eu-west-1", model="forged").set(3.0)
    metrics.ADMISSION_SECONDS.labels(region="forged").observe(0.5)
    samples = [sample for family in REGISTRY.collect() for sample in family.samples]
    rates = {s.labels["model"] for s in samples if s.name == "baton_quota_rate"}
    waits = {s.labels["region"] for s in samples if s.name == "baton_quota_wait_seconds_count"}
    assert "forged" not in rates | waits
    assert "other" in rates
    assert "other" in waits


@pytest.mark.parametrize(("closed", "kept", "others"), LABELS.values(), ids=LABELS)
def test_each_label_keeps_its_closed_set_and_reads_anything_else_as_other(closed, kept, others):
    assert [closed(value) for value in kept] == kept
    assert {closed(value) for value in others} == {"other"}


def test_every_refusal_reason_is_the_code_of_a_baton_error_class():
    assert metrics.reason_label(AgentDefinitionInvalid.code) == "agent_definition_invalid"

    class LaterError(RegionNotAllowed):
        code = "later_error"

    assert metrics.reason_label("later_error") == "later_error"


def test_a_label_without_a_closed_set_is_refused():
    with pytest.raises(ValueError, match="no closed set"):
        metrics.REFUSALS.labels(why="x")
