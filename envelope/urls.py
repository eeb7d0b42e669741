"""Endpoint URLs: one strict parser, so the host Baton checks is the host a connection goes to.

Python's ``urlsplit`` and urllib3 (which botocore connects with) read some URLs differently:
``http://127.0.0.1:1\\@127.0.0.1:2`` is port 2 to the first and port 1 to the second, so a check
made with one let a request, signature and token included, go where the other pointed. An
endpoint is therefore an origin and nothing more::

    http[s]://host[:port][/]

``host`` is a DNS name (letters, digits, ``_`` and ``-``, dots between labels), a dotted-quad IPv4
address or a bracketed IPv6 address; ``port`` is 1-65535 in ASCII digits. Everything else is
refused with a ``ValueError`` naming the rule it broke: userinfo, backslashes, a path, a query, a
fragment, percent-escapes, whitespace, control or non-ASCII characters, a host that is a number
but not a dotted quad. urllib3 reads the same scheme, host and port from every string this parser
accepts (a hypothesis property in ``tests/envelope/test_urls.py``).

Usage::

    endpoint = parse_endpoint("https://bedrock-runtime.eu-west-1.amazonaws.com")
    endpoint.host, endpoint.port                # ("bedrock-runtime.eu-west-1.amazonaws.com", 443)
    check_endpoint_url(url, insecure_endpoints=parse_insecure_endpoints("emulator:8750"))
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass

#: The port each scheme connects to when a URL names none; no other scheme is an endpoint.
DEFAULT_PORTS = {"http": 80, "https": 443}

#: The variable that lists ``host:port`` pairs allowed over plain http, on parents and workers.
INSECURE_ENDPOINTS_VARIABLE = "BATON_ALLOW_INSECURE_ENDPOINTS"

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})

#: One DNS label, lowercased. ``_`` is allowed: compose service names use it.
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?", re.ASCII)

#: A last label the resolver would read as a number (``127.1``, ``0x7f.1``): an IPv4 address in
#: disguise, refused unless it is a plain dotted quad.
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*", re.ASCII)

#: Characters that have a meaning in a URL beyond an origin, and what each would mean.
_REFUSED = (
    ("\\", "has a backslash, which URL parsers disagree about"),
    ("@", "has userinfo (@); credentials never go in an endpoint URL"),
    ("?", "has a query (?)"),
    ("#", "has a fragment (#)"),
    ("%", "has a percent-escape (%)"),
)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """An endpoint as it is connected to: scheme, lowercased host, port (the scheme's default
    filled in). Two spellings of one origin parse to equal values."""

    scheme: str
    host: str
    port: int

    @property
    def netloc(self) -> str:
        """``host:port``, with an IPv6 host in brackets."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def origin(self) -> str:
        """``scheme://host:port``: the form allowlist entries are compared and printed in."""
        return f"{self.scheme}://{self.netloc}"

    @property
    def is_loopback(self) -> bool:
        """Whether the host can only mean this machine."""
        return is_loopback_host(self.host)

    def __str__(self) -> str:
        return self.origin


@functools.lru_cache(maxsize=1024)
def is_loopback_host(host: str) -> bool:
    """Tell whether ``host`` can only mean this machine."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@functools.lru_cache(maxsize=1024)
def parse_endpoint(url: str) -> Endpoint:
    """Parse ``url`` as ``http[s]://host[:port][/]``; raise ValueError saying what is wrong."""
    problem = _character_problem(url)
    if problem:
        raise _invalid(url, problem)
    scheme, separator, rest = url.partition("://")
    scheme = scheme.lower()
    if not separator or scheme not in DEFAULT_PORTS:
        raise _invalid(url, "is not an http:// or https:// URL")
    authority, _, path = rest.partition("/")
    if path:
        raise _invalid(url, f"has a path (/{path})")
    try:
        host, port = _parse_authority(authority)
    except ValueError as exc:
        raise _invalid(url, str(exc)) from None
    return Endpoint(scheme=scheme, host=host, port=port or DEFAULT_PORTS[scheme])


def check_endpoint_url(url: str, *, insecure_endpoints: frozenset[str] = frozenset()) -> str:
    """Return ``url`` if it parses and is https, or http on loopback or an opted-in ``host:port``.

    Raises:
        ValueError: anything else; plain http elsewhere would let a network peer read and
            rewrite every Bedrock call.
    """
    return _checked_endpoint_url(url, insecure_endpoints)


@functools.lru_cache(maxsize=1024)  # positional: a keyword argument makes every lookup dearer
def _checked_endpoint_url(url: str, insecure_endpoints: frozenset[str]) -> str:
    endpoint = parse_endpoint(url)
    if endpoint.scheme == "http" and not (
        endpoint.is_loopback or endpoint.netloc in insecure_endpoints
    ):
        raise ValueError(
            f"endpoint {url!r} is plain http on a non-loopback host; use https "
            "(plain http is accepted only for 127.0.0.1, ::1, localhost, or a host:port listed "
            f"in {INSECURE_ENDPOINTS_VARIABLE} on parents and workers, for local fleets)"
        )
    return url


def parse_insecure_endpoints(text: str | None) -> frozenset[str]:
    """Parse ``BATON_ALLOW_INSECURE_ENDPOINTS`` (``host:port,host:port``) into ``netloc`` form.

    Raises:
        ValueError: an entry that is not exactly ``host:port``; the message names the entry, and
            the caller the variable.
    """
    return frozenset(
        _insecure_entry(part.strip()) for part in (text or "").split(",") if part.strip()
    )


def _insecure_entry(entry: str) -> str:
    problem = _character_problem(entry)
    if problem is None and "/" in entry:
        problem = "has a scheme or a path"
    if problem is None:
        try:
            host, port = _parse_authority(entry)
        except ValueError as exc:
            problem = str(exc)
        else:
            if port is not None:
                return Endpoint(scheme="http", host=host, port=port).netloc
            problem = "has no port"
    raise ValueError(
        f"entry {entry!r} {problem}; list host:port pairs, comma-separated, such as emulator:8750"
    )


def _invalid(url: str, problem: str) -> ValueError:
    return ValueError(
        f"endpoint {url!r} {problem}; an endpoint is a scheme, a host and a port only: write it "
        "as https://host or https://host:port"
    )


def _character_problem(text: str) -> str | None:
    """Say what is wrong with ``text``'s characters, before any of them is given a meaning."""
    if not text.isascii():
        return "has a non-ASCII character"
    if any(char <= " " or char == "\x7f" for char in text):
        return "has whitespace or a control character"
    for char, problem in _REFUSED:
        if char in text:
            return problem
    return None


def _parse_authority(authority: str) -> tuple[str, int | None]:
    """Split ``host[:port]`` into a checked, lowercased host and the port, if one is named."""
    if authority.startswith("["):
        literal, bracket, rest = authority[1:].partition("]")
        if not bracket:
            raise ValueError("has an unclosed [ in its host")
        host = _ipv6_host(literal)
        if rest and not rest.startswith(":"):
            raise ValueError(f"has {rest!r} after its IPv6 host")
        port_text = rest[1:] if rest else None
    else:
        name, colon, port = authority.partition(":")
        host = _name_host(name.lower())
        port_text = port if colon else None
    return host, None if port_text is None else _port(port_text)


def _ipv6_host(literal: str) -> str:
    try:
        return ipaddress.IPv6Address(literal).compressed
    except ValueError:
        raise ValueError(f"has [{literal}] as its host, which is not an IPv6 address") from None


def _name_host(host: str) -> str:
    if not host:
        raise ValueError("has no host")
    labels = host.split(".")
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise ValueError(
            f"has host {host!r}, which is not a DNS name (labels of letters, digits, _ and -, "
            "1-63 characters, one dot between labels, none at the end)"
        )
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        try:
            return str(ipaddress.IPv4Address(host))
        except ValueError:
            raise ValueError(
                f"has host {host!r}, which reads as a number but is not a dotted-quad IPv4 address"
            ) from None
    return host


def _port(text: str) -> int:
    if not (text.isdigit() and len(text) <= 5 and 1 <= int(text) <= 65535):
        raise ValueError(f"has port {text!r}, which is not a number from 1 to 65535")
    return int(text)
