"""SigV4 verification: a published AWS vector, botocore's own signer, and refused requests."""

from __future__ import annotations

import hashlib
import time

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from emulator import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY
from emulator.errors import (
    IncompleteSignature,
    InvalidSignature,
    MissingAuthenticationToken,
    UnrecognizedClient,
)
from emulator.server import Headers, Request
from emulator.sigv4 import (
    MISMATCH_MESSAGE,
    Scope,
    canonical_request,
    canonical_uri,
    parse_authorization,
    signature,
    verify,
)

EU_PROFILE = "eu.anthropic.claude-sonnet-4-20250514-v1:0"
SECRETS = {TEST_ACCESS_KEY_ID: TEST_SECRET_ACCESS_KEY}


def sha256_hex(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


class _RecordingSigV4Auth(SigV4Auth):
    """botocore's signer, keeping the canonical request it signed."""

    canonical = ""

    def canonical_request(self, request: AWSRequest) -> str:
        self.canonical = super().canonical_request(request)
        return self.canonical


def _botocore_signed(
    path: str = "/model/eu.anthropic.claude-sonnet-4-20250514-v1%3A0/converse",
    *,
    body: bytes = b'{"messages":[]}',
    region: str = "eu-west-1",
    service: str = "bedrock",
    query: str = "",
    headers: dict[str, str] | None = None,
    signer: SigV4Auth | None = None,
) -> Request:
    """Sign with botocore's SigV4Auth and return the request as the server would parse it."""
    url = f"http://127.0.0.1:8080{path}" + (f"?{query}" if query else "")
    aws = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    credentials = Credentials(TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY)
    (signer or SigV4Auth(credentials, service, region)).add_auth(aws)
    sent = {name.lower(): value for name, value in aws.headers.items()}
    sent["host"] = "127.0.0.1:8080"
    return Request("POST", path, query, Headers(sent), body)


def _with_headers(request: Request, **changes: str | None) -> Request:
    """Return ``request`` with the headers named (``_`` for ``-``) set, or removed if None."""
    headers = dict(request.headers)
    for name, value in changes.items():
        headers.pop(name.replace("_", "-"), None)
        if value is not None:
            headers[name.replace("_", "-")] = value
    return Request(request.method, request.path, request.query, Headers(headers), request.body)


def _verify(request: Request, **kwargs) -> Scope:
    return verify(request, parse_authorization(request), secrets=SECRETS, **kwargs)


def test_the_aws_get_vanilla_vector_signs_to_the_published_signature():
    request = Request(
        "GET",
        "/",
        "",
        Headers({"host": "example.amazonaws.com", "x-amz-date": "20150830T123600Z"}),
        b"",
    )
    scope = Scope("AKIDEXAMPLE", "20150830", "us-east-1", "service")

    canonical = canonical_request(request, ("host", "x-amz-date"))

    assert (
        signature("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", scope, "20150830T123600Z", canonical)
        == "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    )


def test_a_request_signed_by_botocore_verifies_and_yields_its_region():
    scope = _verify(_botocore_signed(region="eu-central-1"))

    assert scope.region == "eu-central-1"
    assert scope.access_key_id == TEST_ACCESS_KEY_ID
    assert scope.service == "bedrock"


def test_a_request_with_a_query_string_verifies():
    _verify(_botocore_signed(query="b=2&a=x%2Fy"))


def test_the_path_is_encoded_a_second_time_as_botocore_does():
    assert canonical_uri("/model/eu.x-v1%3A0/converse") == "/model/eu.x-v1%253A0/converse"
    assert canonical_uri("/a/./b/../c//d") == "/a/c/d"
    assert canonical_uri("") == "/"


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/model/eu.anthropic.claude-sonnet-4-20250514-v1%3A0/converse", ""),
        ("/model/arn%3Aaws%3Abedrock%3Aeu-west-1%3A111122223333%3Aprofile%2Fx/converse", ""),
        ("/a/./b/../c//d/", ""),
        ("/model/with~tilde%20and%20spaces/invoke", ""),
        ("/model/x/converse", "b=2&a=x%2Fy&a=1&flag"),
    ],
)
def test_the_canonical_request_is_the_one_botocore_signed(path, query):
    signer = _RecordingSigV4Auth(
        Credentials(TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY), "bedrock", "eu-west-1"
    )
    request = _botocore_signed(path, query=query, signer=signer)

    signed_headers = parse_authorization(request).signed_headers
    assert canonical_request(request, signed_headers) == signer.canonical
    _verify(request)


def test_a_payload_hash_header_that_matches_the_body_verifies():
    body = b'{"messages":[]}'

    _verify(_botocore_signed(body=body, headers={"X-Amz-Content-SHA256": sha256_hex(body)}))


@pytest.mark.parametrize(
    "claimed",
    [
        pytest.param("UNSIGNED-PAYLOAD", id="unsigned"),
        pytest.param(sha256_hex(b"another body"), id="another body's hash"),
    ],
)
def test_a_payload_hash_header_that_is_not_the_bodys_hash_is_refused(claimed):
    # botocore's signer signs whatever the header claims, so this signature is otherwise valid.
    request = _botocore_signed(headers={"X-Amz-Content-SHA256": claimed})

    with pytest.raises(InvalidSignature, match="'x-amz-content-sha256' header does not match"):
        _verify(request)


def test_a_signature_scoped_to_something_not_shaped_like_a_region_is_refused():
    with pytest.raises(InvalidSignature, match="scoped to a valid region"):
        _verify(_botocore_signed(region="EU_WEST_1"))


def test_a_scope_dated_another_day_than_x_amz_date_is_refused():
    signed = _botocore_signed()
    day = signed.headers["x-amz-date"][:8]
    other_day = "19990101" if day != "19990101" else "20000101"
    request = _with_headers(
        signed, authorization=signed.headers["authorization"].replace(f"/{day}/", f"/{other_day}/")
    )

    with pytest.raises(InvalidSignature, match="Date in Credential scope does not match"):
        _verify(request)


def test_a_request_without_x_amz_date_is_incomplete():
    with pytest.raises(IncompleteSignature, match="'X-Amz-Date'"):
        _verify(_with_headers(_botocore_signed(), x_amz_date=None))


def test_a_signature_that_does_not_cover_host_is_refused():
    signed = _botocore_signed()
    authorization = signed.headers["authorization"].replace(
        "SignedHeaders=content-type;host;x-amz-date", "SignedHeaders=content-type;x-amz-date"
    )
    assert authorization != signed.headers["authorization"]

    with pytest.raises(InvalidSignature, match="'Host' must be a 'SignedHeader'"):
        _verify(_with_headers(signed, authorization=authorization))


def test_a_changed_body_no_longer_verifies():
    signed = _botocore_signed()
    tampered = Request(signed.method, signed.path, signed.query, signed.headers, b'{"x":1}')

    with pytest.raises(InvalidSignature, match="does not match the signature you provided"):
        _verify(tampered)


def test_a_changed_path_no_longer_verifies():
    signed = _botocore_signed()
    other_path = signed.path.replace("eu.", "us.")
    tampered = Request(signed.method, other_path, signed.query, signed.headers, signed.body)

    with pytest.raises(InvalidSignature):
        _verify(tampered)


def test_a_signature_older_than_five_minutes_is_refused():
    with pytest.raises(InvalidSignature, match="more than 5 minutes"):
        _verify(_botocore_signed(), now=time.time() + 6 * 60)


def test_a_signature_within_five_minutes_is_accepted():
    _verify(_botocore_signed(), now=time.time() + 4 * 60)


def test_a_signature_for_another_service_is_refused():
    with pytest.raises(InvalidSignature, match="correct service: 'bedrock'"):
        _verify(_botocore_signed(service="s3"))


def test_an_unknown_access_key_is_unrecognised():
    request = _botocore_signed()

    with pytest.raises(UnrecognizedClient, match="security token included in the request"):
        verify(request, parse_authorization(request), secrets={"AKIDSOMEONEELSE": "x"})


def test_a_request_without_authorization_is_missing_a_token():
    request = Request("POST", "/model/x/converse", "", Headers({}), b"")

    with pytest.raises(MissingAuthenticationToken):
        _verify(request)
    assert parse_authorization(request).scheme == "none"


def test_a_bearer_token_is_not_accepted():
    request = Request("POST", "/", "", Headers({"authorization": "Bearer abc"}), b"")

    with pytest.raises(UnrecognizedClient, match="SigV4"):
        _verify(request)
    assert parse_authorization(request).scheme == "bearer"


def test_an_authorization_header_without_a_signature_is_incomplete():
    value = (
        f"AWS4-HMAC-SHA256 Credential={TEST_ACCESS_KEY_ID}/20250101/eu-west-1/bedrock/aws4_request"
    )
    request = Request("POST", "/", "", Headers({"authorization": value}), b"")

    with pytest.raises(IncompleteSignature, match="'Signature'"):
        _verify(request)


def test_a_tampered_body_sent_over_http_is_an_invalid_signature(emulator, wire):
    path = wire.model_path(EU_PROFILE)
    headers = wire.sign(emulator, path, wire.converse_body("what was signed"))

    response = wire.send(
        emulator, "POST", path, body=wire.converse_body("what was sent"), headers=headers
    )

    assert response.status == 403
    assert response.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    assert response.json() == {"message": MISMATCH_MESSAGE}


def test_the_untampered_request_sent_over_http_succeeds(emulator, wire):
    path = wire.model_path(EU_PROFILE)
    body = wire.converse_body("what was signed")

    response = wire.send(emulator, "POST", path, body=body, headers=wire.sign(emulator, path, body))

    assert response.status == 200


def test_boto3_with_the_wrong_secret_gets_invalid_signature_exception(emulator, make_client):
    client = make_client(emulator, secret_key="not-the-secret")

    with pytest.raises(ClientError) as caught:
        client.converse(modelId=EU_PROFILE, messages=[{"role": "user", "content": [{"text": "x"}]}])

    assert caught.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert caught.value.response["Error"]["Message"] == MISMATCH_MESSAGE
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_boto3_with_an_unknown_access_key_gets_unrecognized_client(emulator, make_client):
    client = make_client(emulator, access_key="AKIDNOBODYISSUEDTHIS", secret_key="whatever")

    with pytest.raises(ClientError) as caught:
        client.converse(modelId=EU_PROFILE, messages=[{"role": "user", "content": [{"text": "x"}]}])

    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error["Error"]["Code"] == "UnrecognizedClientException"
    assert error["Error"]["Message"] == "The security token included in the request is invalid."


def test_a_bearer_request_over_http_is_refused_with_403(emulator, wire):
    response = wire.send(
        emulator,
        "POST",
        wire.model_path(EU_PROFILE),
        body=wire.converse_body(),
        headers={"Authorization": "Bearer bedrock-api-key-abc", "Content-Type": "application/json"},
    )

    assert response.status == 403
    assert response.headers["x-amzn-ErrorType"] == "UnrecognizedClientException"


def test_an_unsigned_request_over_http_is_refused_with_403(emulator, wire):
    response = wire.send(emulator, "POST", wire.model_path(EU_PROFILE), body=wire.converse_body())

    assert response.status == 403
    assert response.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


def test_signature_is_checked_before_the_policy(emulator, make_client):
    client = make_client(emulator, region="us-east-1", secret_key="not-the-secret")

    with pytest.raises(ClientError) as caught:
        client.converse(
            modelId="us.anthropic.claude-sonnet-4-20250514-v1:0",
            messages=[{"role": "user", "content": [{"text": "x"}]}],
        )

    assert caught.value.response["Error"]["Code"] == "InvalidSignatureException"
