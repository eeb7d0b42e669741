"""``baton iam-policy``: resolve the model as the parent would, then print the policy JSON."""

from __future__ import annotations

import json

from orchestrator import capture, iam_policy


def render_policy(
    *,
    region: str,
    model: str,
    cross_region: bool | None,
    account: str,
    deny_outside_geography: bool,
) -> str:
    """Return the policy for ``model`` called from ``region`` as indented JSON."""
    environ = (
        {}
        if cross_region is None
        else {"AWS_BEDROCK_CROSS_REGION_INFERENCE": "true" if cross_region else "false"}
    )
    config = capture(environ=environ, region=region, model=model)
    policy = iam_policy(
        region=region,
        model_id=config.model_id,
        account=account,
        deny_outside_geography=deny_outside_geography,
    )
    return json.dumps(policy, indent=2)
