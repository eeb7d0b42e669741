"""BATON_BEDROCK_QUOTAS: JSON or a file, refused in one line, the most specific entry first."""

from __future__ import annotations

import json

import pytest

from fleet import ModelQuota, QuotaConfigInvalid, QuotaTable
from fleet.quotas import DEFAULT_MAX_OUTPUT_TOKENS, UNKNOWN

PROFILE = "eu.anthropic.claude-sonnet-4-20250514-v1:0"


def test_the_most_specific_entry_wins_region_then_model_then_any():
    entries = {
        f"eu-west-1/{PROFILE}": {"requests_per_minute": 600},
        PROFILE: {"requests_per_minute": 300},
        "*": {"tokens_per_minute": 1000},
    }
    table = QuotaTable.parse(json.dumps(entries))
    assert table.lookup(region="eu-west-1", model_id=PROFILE).requests_per_minute == 600
    assert table.lookup(region="eu-central-1", model_id=PROFILE).requests_per_minute == 300
    other = table.lookup(region="eu-west-1", model_id="anthropic.claude-3-haiku-20240307-v1:0")
    assert other == ModelQuota(tokens_per_minute=1000)
    assert other.max_output_tokens == DEFAULT_MAX_OUTPUT_TOKENS


def test_an_on_demand_id_is_not_its_cross_region_profile():
    table = QuotaTable.parse(json.dumps({PROFILE: {"requests_per_minute": 60}}))
    assert table.lookup(region="eu-west-1", model_id=PROFILE.removeprefix("eu.")) is UNKNOWN


def test_the_table_can_live_in_a_file(tmp_path):
    path = tmp_path / "quotas.json"
    path.write_text('{"*": {"requests_per_minute": 60, "max_output_tokens": 4096}}')
    entry = QuotaTable.parse(str(path)).lookup(region="eu-west-1", model_id=PROFILE)
    assert (entry.requests_per_minute, entry.max_output_tokens) == (60, 4096)


def test_unset_or_empty_means_nothing_configured():
    assert QuotaTable.parse(None).entries == {}
    assert QuotaTable.parse("  ").entries == {}


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        ("/no/such/file.json", "neither a JSON object nor a readable file"),
        ("{not json", "is not valid JSON"),
        ('{"*": 60}', "entry '*' must be an object"),
        ('{"*": {"rpm": 60}}', "unknown field rpm"),
        ('{"*": {"requests_per_minute": 0}}', "at least 1, not 0"),
        ('{"*": {"tokens_per_minute": 1.5}}', "at least 1, not 1.5"),
        ('{"*": {"requests_per_minute": true}}', "at least 1, not True"),
        ('{" ": {"requests_per_minute": 1}}', "a key is a model ID"),
    ],
)
def test_a_bad_table_is_refused_in_one_line_naming_what_is_wrong(value, complaint):
    with pytest.raises(QuotaConfigInvalid) as caught:
        QuotaTable.parse(value)
    assert complaint in str(caught.value)
    assert "\n" not in str(caught.value)
