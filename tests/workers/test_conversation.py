"""One Converse turn's failures, as a worker reports them: what happened and what to do."""

from __future__ import annotations

import botocore.session
import pytest

from workers import IdentityUnavailable
from workers.conversation import converse, emulator_hint, emulator_regions, user_text


class _Nothing:
    """A credential resolver that finds nothing, as on a worker with no AWS identity."""

    def load_credentials(self) -> None:
        return None


def test_a_worker_with_no_credentials_says_so_and_where_they_are_looked_for():
    core = botocore.session.Session()
    core.register_component("credential_provider", _Nothing())
    client = core.create_client(
        "bedrock-runtime", region_name="eu-west-1", endpoint_url="http://127.0.0.1:9"
    )

    with pytest.raises(IdentityUnavailable) as caught:
        converse(client, model_id="eu.anthropic.x", messages=[user_text("hi")], system=None)

    message = str(caught.value)
    assert message.startswith(
        "no AWS credentials were found on this worker, so the call to http://127.0.0.1:9 "
        "(eu-west-1) was not sent (Unable to locate credentials)"
    )
    assert "AWS_ACCESS_KEY_ID with AWS_SECRET_ACCESS_KEY" in message
    assert "the EC2 instance role" in message
    assert "could not reach" not in message


def test_only_region_names_are_read_from_the_emulator_header_and_bedrock_sends_none():
    def response(headers):
        return {"ResponseMetadata": {"HTTPHeaders": headers}}

    header = "x-baton-emulator-allowed-regions"
    assert emulator_regions(response({header: "eu-west-1,`rm -rf`,none"})) == ["eu-west-1"]
    assert emulator_regions(response({"x-amzn-errortype": "AccessDeniedException"})) is None
    assert "which allows no region (its --allow-region list)" in emulator_hint(
        [], region="eu-west-2"
    )
