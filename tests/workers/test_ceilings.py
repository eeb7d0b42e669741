"""A worker caps what an envelope may ask, whatever the parent signed (issue 14's findings)."""

from __future__ import annotations

import time

import pytest

from envelope import TASK_NAME, EnvelopeMalformed, Limits, SealedAuth, encode
from tests.factories import KEY, bound_request, keyring, make_envelope
from workers import GeographyNotAllowed, IdentityUnavailable, LifetimeNotAllowed, WorkerSettings
from workers.agents import AgentRegistry
from workers.ceilings import DEFAULT_MAX_CHILDREN, Ceilings
from workers.runtime import WorkerRuntime
from workers.tasks import job_model_id


def admitted(**overrides):
    runtime = WorkerRuntime(WorkerSettings(envelope_key=KEY, allowed_regions=("eu-west-1",)))
    token = encode(make_envelope(**overrides), keyring=keyring())
    return runtime.admit(bound_request(token), task_name=TASK_NAME)


def test_limits_above_the_workers_ceilings_are_lowered_to_them():
    envelope = admitted(limits=Limits(max_depth=16, max_children=64, max_turns=64, max_jobs=10_000))
    assert envelope.limits == Limits(
        max_depth=Ceilings.max_depth,
        max_children=DEFAULT_MAX_CHILDREN,
        max_turns=Ceilings.max_turns,
        max_jobs=Ceilings.max_jobs,
    )


def test_limits_within_the_ceilings_are_kept_as_the_parent_signed_them():
    limits = Limits(max_depth=2, max_children=3, max_turns=4, max_jobs=5)
    assert admitted(limits=limits).limits == limits


def test_an_envelope_living_longer_than_the_ceiling_is_refused():
    now = int(time.time())
    with pytest.raises(LifetimeNotAllowed, match="BATON_ENVELOPE_TTL"):
        admitted(iat=now, exp=10**12)


def test_an_envelope_issued_in_the_future_is_refused():
    now = int(time.time())
    with pytest.raises(EnvelopeMalformed, match="in the future"):
        admitted(iat=now + 3600, exp=now + 4200)


def test_an_envelope_issued_within_the_clock_skew_is_admitted():
    now = int(time.time())
    assert admitted(iat=now + 10, exp=now + 600).iat == now + 10


def sealed(exp: int) -> SealedAuth:
    return SealedAuth(ciphertext="c2VhbGVk", exp=exp)


def test_sealed_credentials_are_refused_on_every_job_once_the_seal_expired():
    now = int(time.time())
    runtime = WorkerRuntime(WorkerSettings(envelope_key=KEY, allowed_regions=("eu-west-1",)))
    token = encode(make_envelope(auth=sealed(now - 1)), keyring=keyring())
    with pytest.raises(IdentityUnavailable, match="sealed credentials expired"):
        runtime.admit(bound_request(token), task_name=TASK_NAME)
    fresh = encode(make_envelope(auth=sealed(now + 600)), keyring=keyring())
    assert runtime.admit(bound_request(fresh), task_name=TASK_NAME).auth.exp == now + 600


def test_a_child_may_not_leave_its_parents_geography_for_a_global_profile():
    explorer = AgentRegistry.load(directory=None).get("explorer")
    parent = make_envelope()  # eu.
    with pytest.raises(GeographyNotAllowed, match="routes worldwide"):
        job_model_id(parent, explorer, "global.anthropic.claude-sonnet-4-5-20250929-v1:0")


def test_a_global_parent_may_give_its_children_a_global_profile():
    explorer = AgentRegistry.load(directory=None).get("explorer")
    parent = make_envelope(model_id="global.anthropic.claude-sonnet-4-5-20250929-v1:0")
    named = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert job_model_id(parent, explorer, named) == named
