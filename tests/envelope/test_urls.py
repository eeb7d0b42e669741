"""The strict endpoint parser: an origin and nothing more, read as urllib3 reads it."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from urllib3.util import parse_url

from envelope import Endpoint, check_endpoint_url, parse_endpoint
from envelope.urls import DEFAULT_PORTS, parse_insecure_endpoints
from tests.support.quick_loop import examples


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://bedrock-runtime.eu-west-1.amazonaws.com",
            Endpoint("https", "bedrock-runtime.eu-west-1.amazonaws.com", 443),
        ),
        (
            "HTTPS://Bedrock-Runtime.EU-West-1.amazonaws.com:443/",
            Endpoint("https", "bedrock-runtime.eu-west-1.amazonaws.com", 443),
        ),
        ("http://127.0.0.1:8750", Endpoint("http", "127.0.0.1", 8750)),
        ("http://localhost", Endpoint("http", "localhost", 80)),
        ("http://[::1]:8000/", Endpoint("http", "::1", 8000)),
        ("http://[0:0:0:0:0:0:0:1]", Endpoint("http", "::1", 80)),
        ("http://my_emulator:8750", Endpoint("http", "my_emulator", 8750)),
        ("https://h:65535", Endpoint("https", "h", 65535)),
    ],
)
def test_an_origin_parses_to_its_scheme_lowercased_host_and_port(url, expected):
    assert parse_endpoint(url) == expected


def test_two_spellings_of_one_origin_are_equal_and_print_alike():
    first = parse_endpoint("https://BEDROCK-runtime.eu-west-1.amazonaws.com:443/")
    second = parse_endpoint("https://bedrock-runtime.eu-west-1.amazonaws.com")
    assert first == second
    assert str(first) == "https://bedrock-runtime.eu-west-1.amazonaws.com:443"
    assert parse_endpoint("http://[::1]:9").origin == "http://[::1]:9"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        # The review's findings: urlsplit and urllib3 read these differently.
        ("http://127.0.0.1:41001\\@127.0.0.1:41000", "backslash"),
        ("http://remote.example\\@localhost", "backslash"),
        ("https://h:99999", "not a number from 1 to 65535"),
        # Everything else an origin cannot hold.
        ("http://user:pw@127.0.0.1:8750", "userinfo"),
        ("http://127.0.0.1@evil.example.com", "userinfo"),
        ("https://h/model/x/converse", "has a path"),
        ("https://h/v1", "has a path"),
        ("https://h?x=1", "query"),
        ("https://h?", "query"),
        ("https://h#frag", "fragment"),
        ("https://h%2e", "percent-escape"),
        ("https://h\t", "whitespace or a control character"),
        (" https://h", "whitespace or a control character"),
        ("https://h\n", "whitespace or a control character"),
        ("https://h\x00.example", "whitespace or a control character"),
        ("https://bédrock.example", "non-ASCII"),
        ("https://h:0", "not a number from 1 to 65535"),
        ("https://h:", "not a number from 1 to 65535"),
        ("https://h:+443", "not a number from 1 to 65535"),
        ("https://h:-1", "not a number from 1 to 65535"),
        ("https://h:443:1", "not a number from 1 to 65535"),
        ("https://h:0x1bb", "not a number from 1 to 65535"),
        ("https://h:443443", "not a number from 1 to 65535"),
        ("https://", "has no host"),
        ("https://:443", "has no host"),
        ("https://h.", "not a DNS name"),
        ("https://a..b", "not a DNS name"),
        ("https://" + "a" * 64 + ".example", "not a DNS name"),
        ("http://127.1", "not a dotted-quad"),
        ("http://0x7f.0.0.1", "not a dotted-quad"),
        ("http://2130706433", "not a dotted-quad"),
        ("http://127.000.000.001", "not a dotted-quad"),
        ("http://[::1", "unclosed"),
        ("http://[fe80::1%25eth0]", "percent-escape"),
        ("http://[127.0.0.1]", "not an IPv6 address"),
        ("http://[::1]x", "after its IPv6 host"),
        ("ftp://h", "not an http:// or https:// URL"),
        ("bedrock-runtime.eu-west-1.amazonaws.com", "not an http:// or https:// URL"),
        ("http:/h", "not an http:// or https:// URL"),
        ("", "not an http:// or https:// URL"),
    ],
)
def test_anything_but_an_origin_is_refused_with_what_is_wrong(url, problem):
    with pytest.raises(ValueError, match=problem) as refused:
        parse_endpoint(url)
    assert "write it as https://host or https://host:port" in str(refused.value)


def test_the_findings_urls_are_read_differently_by_urlsplit_and_urllib3():
    # Why the parser exists: each was accepted by a urlsplit check, and urllib3 connected elsewhere.
    split, connected = (
        urlsplit("http://127.0.0.1:41001\\@127.0.0.1:41000"),
        parse_url("http://127.0.0.1:41001\\@127.0.0.1:41000"),
    )
    assert (split.port, connected.port) == (41000, 41001)
    assert urlsplit("http://remote.example\\@localhost").hostname == "localhost"
    assert parse_url("http://remote.example\\@localhost").host == "remote.example"


@pytest.mark.parametrize(
    ("url", "insecure"),
    [
        ("https://bedrock.internal.example", frozenset()),
        ("http://127.0.0.1:8750", frozenset()),
        ("http://[::1]:8750", frozenset()),
        ("http://localhost", frozenset()),
        ("http://emulator:8750", frozenset({"emulator:8750"})),
        ("http://EMULATOR:8750/", frozenset({"emulator:8750"})),
    ],
)
def test_https_loopback_http_and_opted_in_http_pass_the_transport_check(url, insecure):
    assert check_endpoint_url(url, insecure_endpoints=insecure) == url


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("http://emulator:8751", "BATON_ALLOW_INSECURE_ENDPOINTS"),
        ("http://emulator", "BATON_ALLOW_INSECURE_ENDPOINTS"),
        ("http://10.0.0.5:8750", "BATON_ALLOW_INSECURE_ENDPOINTS"),
        ("http://emulator:8750\\@localhost", "backslash"),
        ("http://127.0.0.1:1\\@127.0.0.1:2", "backslash"),
    ],
)
def test_plain_http_elsewhere_and_unparseable_urls_fail_the_transport_check(url, match):
    with pytest.raises(ValueError, match=match):
        check_endpoint_url(url, insecure_endpoints=frozenset({"emulator:8750"}))


def test_insecure_endpoints_parse_to_lowercased_host_port_pairs():
    assert parse_insecure_endpoints(" Emulator:8750 , [::1]:9,,") == {"emulator:8750", "[::1]:9"}
    assert parse_insecure_endpoints(None) == frozenset()
    assert parse_insecure_endpoints("") == frozenset()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("emulator", "has no port"),
        ("http://emulator:8750", "has a scheme or a path"),
        ("emulator:8750/", "has a scheme or a path"),
        ("emulator:99999", "not a number from 1 to 65535"),
        ("emulator:0", "not a number from 1 to 65535"),
        ("emu lator:8750", "whitespace"),
        ("user@emulator:8750", "userinfo"),
        ("emulator:8750\\@x:1", "backslash"),
        ("ok:1,*:8750", "not a DNS name"),
    ],
)
def test_a_bad_insecure_endpoint_entry_is_a_value_error_naming_it(text, problem):
    with pytest.raises(ValueError, match=problem) as refused:
        parse_insecure_endpoints(text)
    assert "host:port" in str(refused.value)


# --- the property: the host Baton checks is the host urllib3 connects to -------------------------

#: Characters that make URL parsers disagree, and the ones an origin is made of.
URL_CHARACTERS = "abcxyzHT019:/\\@?#%[]._-+ \t\n\u00e9\uff0e"

labels = st.from_regex(r"[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,8}[a-zA-Z0-9_])?", fullmatch=True)
hosts = st.one_of(
    st.lists(labels, min_size=1, max_size=4).map(".".join),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda address: f"[{address}]"),
    st.sampled_from(["localhost", "127.0.0.1", "[::1]", "127.1", "0x7f.1", "2130706433"]),
)
ports = st.one_of(
    st.just(""),
    st.integers(min_value=0, max_value=99999).map(lambda port: f":{port}"),
    st.integers(min_value=1, max_value=65535).map(lambda port: f":00{port}"),
)
schemes = st.sampled_from(["http", "https", "HTTP", "hTtPs", "ftp", "http:", ""])
junk = st.text(alphabet=URL_CHARACTERS, max_size=12)

origins = st.builds(
    lambda scheme, host, port, slash: f"{scheme}://{host}{port}{slash}",
    st.sampled_from(["http", "https", "HTTPS"]),
    hosts,
    st.integers(min_value=1, max_value=65535).map(lambda port: f":{port}") | st.just(""),
    st.sampled_from(["", "/"]),
)
candidates = st.one_of(
    origins,
    st.builds(
        lambda scheme, before, host, port, after: f"{scheme}://{before}{host}{port}{after}",
        schemes,
        junk,
        hosts,
        ports,
        junk,
    ),
    st.builds(lambda scheme, text: f"{scheme}://{text}", schemes, junk),
    st.text(max_size=40),
)


def _comparable(host: str | None) -> str | None:
    """Both keep an IPv6 host as written (urllib3 in brackets); compare the address instead."""
    if host and ":" in host:
        return ipaddress.IPv6Address(host.strip("[]")).compressed
    return host


@settings(max_examples=examples(1000), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(candidates)
@example("http://127.0.0.1:41001\\@127.0.0.1:41000")
@example("http://remote.example\\@localhost")
@example("https://h:99999")
@example("http://[::ffff:127.0.0.1]:8750/")
def test_every_url_the_parser_accepts_is_read_alike_by_urllib3_and_urlsplit(url):
    try:
        endpoint = parse_endpoint(url)
    except ValueError:
        return
    connected = parse_url(url)
    assert (connected.scheme, _comparable(connected.host)) == (endpoint.scheme, endpoint.host)
    assert (connected.port or DEFAULT_PORTS[endpoint.scheme]) == endpoint.port
    assert connected.auth is None and connected.query is None and connected.fragment is None
    assert connected.path in (None, "/")
    split = urlsplit(url)
    assert (split.scheme.lower(), _comparable(split.hostname)) == (endpoint.scheme, endpoint.host)
    assert (split.port or DEFAULT_PORTS[endpoint.scheme]) == endpoint.port


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(origins)
def test_every_well_formed_origin_is_accepted_unless_its_host_is_a_disguised_number(url):
    split = urlsplit(url)
    host = split.hostname or ""
    if NUMBER.fullmatch(host.rpartition(".")[2]) and not _is_ipv4(host):
        with pytest.raises(ValueError, match="dotted-quad"):
            parse_endpoint(url)
    else:
        endpoint = parse_endpoint(url)
        assert endpoint.port == (split.port or DEFAULT_PORTS[endpoint.scheme])


#: A last label a resolver reads as a number (``inet_aton`` takes decimal and hex parts).
NUMBER = re.compile(r"[0-9]+|0x[0-9a-f]*")


def _is_ipv4(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True
