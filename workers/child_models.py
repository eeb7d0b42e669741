"""The model a job calls, and the rule that keeps a child inside its parent's geography.

A child names its model in a Task call, through its agent's ``model:``, or (resumed) in the
conversation state its callback carries. Whatever the form (alias, base ID, profile ID, any ARN,
any case), the model must send calls nowhere its parent's model could not: the same geography
or a narrower one (``au`` under ``apac``), on-demand in the parent's region, ``global`` only
under a global parent, and an application profile only if it is the parent's own model
(``envelope.reach``).
"""

from __future__ import annotations

from envelope import BedrockEnvelope, child_stays_within, reach_of, resolve
from workers.agents import Agent
from workers.errors import GeographyNotAllowed


def job_model_id(envelope: BedrockEnvelope, agent: Agent, model: str | None) -> str:
    """The model a job calls: its own request, else its agent's, else the inherited one.

    A name is resolved with the envelope's region and geography, never re-derived elsewhere,
    and then held to :func:`check_child_model`.

    Raises:
        ResolutionError: the name does not resolve in the parent's region.
        GeographyNotAllowed: the model would send calls outside the parent's geography.
    """
    name = model or agent.model
    if name is None:
        return envelope.model_id
    resolved = resolve(name.strip(), region=envelope.region, cross_region=envelope.cross_region)
    check_child_model(envelope, resolved, named=name)
    return resolved


def check_child_model(
    envelope: BedrockEnvelope, model_id: str, *, named: str | None = None
) -> None:
    """Refuse ``model_id`` for a job under ``envelope`` unless it stays in the parent's reach.

    Raises:
        GeographyNotAllowed: ``model_id`` may send calls where the envelope's model may not.
    """
    region, parent = envelope.region, envelope.model_id
    if child_stays_within(model_id, parent_model=parent, region=region):
        return
    child_reach = reach_of(model_id, region=region).describe()
    asked = f"model {model_id!r}"
    if named and named != model_id:
        asked = f"model {named!r} ({model_id})"
    raise GeographyNotAllowed(
        f"{asked} sends calls to {child_reach}, but this tree's parent chose {parent}, which "
        f"sends them to {reach_of(parent, region=region).describe()}; a child stays in its "
        "parent's geography (name a model of that geography, or have the parent opt in with "
        "that model itself)"
    )
