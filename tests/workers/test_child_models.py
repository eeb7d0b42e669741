"""A child's model stays inside its parent's geography, whatever form its name takes (issue 24,
finding 2): a Task call's ``model``, an agent file's ``model:``, and a resumed state's model."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envelope import BatonError, catalogue, destinations
from envelope.regions import geographies
from tests.factories import make_envelope
from tests.support.quick_loop import examples
from workers import GeographyNotAllowed
from workers.agents import Agent, AgentRegistry
from workers.child_models import check_child_model, job_model_id

SONNET = "anthropic.claude-sonnet-4-5-20250929-v1:0"
GLOBAL_ARN = f"arn:aws:bedrock:eu-west-1:111122223333:inference-profile/global.{SONNET}"
APP_ARN = "arn:aws:bedrock:eu-west-1:111122223333:application-inference-profile/worldwide"
GENERAL = AgentRegistry.load(directory=None).get(None)


def test_the_arn_of_a_global_profile_is_refused_under_an_eu_parent():
    with pytest.raises(GeographyNotAllowed, match="global routes worldwide"):
        job_model_id(make_envelope(), GENERAL, GLOBAL_ARN)


def test_an_agent_files_model_is_held_to_the_same_rule():
    agent = Agent(name="rogue", description="d", system_prompt="s", model=f" {GLOBAL_ARN} ")
    with pytest.raises(GeographyNotAllowed):
        job_model_id(make_envelope(), agent, None)


@pytest.mark.parametrize("name", [f"GLOBAL.{SONNET}", f" global.{SONNET}", f"Eu.{SONNET}"])
def test_an_on_demand_parent_gives_no_child_a_profile_in_any_case(name):
    parent = make_envelope(cross_region=False, model_id=SONNET)
    with pytest.raises(BatonError):
        job_model_id(parent, GENERAL, name)


def test_an_application_profile_is_refused_unless_it_is_the_parents_own_model():
    with pytest.raises(GeographyNotAllowed, match="application-inference-profile ARN"):
        job_model_id(make_envelope(), GENERAL, APP_ARN)
    parent = make_envelope(model_id=APP_ARN)
    assert job_model_id(parent, GENERAL, APP_ARN) == APP_ARN


def test_a_resumed_states_model_is_checked_like_any_child_model():
    with pytest.raises(GeographyNotAllowed):
        check_child_model(make_envelope(), GLOBAL_ARN)
    check_child_model(make_envelope(), make_envelope().model_id)


# The property: for every form of name (alias, base ID, profile ID, any ARN kind, any case,
# surrounding whitespace), a child's model is accepted only where the test's own reading of
# where Bedrock may serve it is inside its parent's.

REGION = "eu-west-1"
EVERYWHERE = frozenset({"*"})
PARENTS = {
    "eu profile": make_envelope(model_id=f"eu.{SONNET}"),
    "on-demand": make_envelope(model_id=SONNET, cross_region=False),
    "global": make_envelope(model_id=f"global.{SONNET}"),
    "application profile": make_envelope(model_id=APP_ARN),
}


def served_in(model: str) -> frozenset[str]:
    """Where Bedrock may serve a call through ``model`` from eu-west-1, on its widest reading."""
    text = model.strip().lower()
    if text.startswith("arn:") and ":inference-profile/" not in text:
        if ":foundation-model/" in text and text.split(":")[3] == REGION:
            return frozenset({REGION})
        return EVERYWHERE  # an application profile, a router: Baton cannot know
    head = text.rsplit("/", 1)[-1].split(".")[0]
    if head == "global":
        return EVERYWHERE
    if head in geographies():
        return frozenset(destinations(head, source_region=REGION))
    return frozenset({REGION})


def forms(base: str, geo: str) -> list[str]:
    return [
        base,
        f"{geo}.{base}",
        f"arn:aws:bedrock:{REGION}:111122223333:inference-profile/{geo}.{base}",
        f"arn:aws:bedrock:{REGION}::foundation-model/{base}",
        f"arn:aws:bedrock:{REGION}:111122223333:application-inference-profile/{geo}",
        "sonnet",
        "haiku",
    ]


def respell(name: str, upper: list[bool], pad: str) -> str:
    cased = "".join(
        c.upper() if u else c for c, u in zip(name, upper + [False] * len(name), strict=False)
    )
    return pad + cased + pad


@settings(max_examples=examples(400), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    parent=st.sampled_from(sorted(PARENTS)),
    base=st.sampled_from(sorted(catalogue().models)),
    geo=st.sampled_from(sorted(geographies())),
    form=st.integers(min_value=0, max_value=6),
    upper=st.lists(st.booleans(), max_size=120),
    pad=st.sampled_from(["", " ", "\t", "\n "]),
)
def test_no_spelling_of_a_model_takes_a_child_outside_its_parents_reach(
    parent, base, geo, form, upper, pad
):
    envelope = PARENTS[parent]
    name = respell(forms(base, geo)[form], upper, pad)
    try:
        chosen = job_model_id(envelope, GENERAL, name)
    except BatonError:
        return
    if chosen == envelope.model_id:
        return
    inner, outer = served_in(chosen), served_in(envelope.model_id)
    assert inner != EVERYWHERE or outer == EVERYWHERE, (name, chosen)
    assert outer == EVERYWHERE or inner <= outer, (name, chosen)
