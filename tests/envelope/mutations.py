"""Ways to break a valid envelope token, shared by the decoder fuzz and the real-worker fuzz.

Each mutation keeps the token a plausible header value: edited characters and bytes, cut or
repeated segments, re-encoded payloads under the old signature, keys that are not the fleet's,
and plain garbage. None of them can produce a token the fleet's keyring accepts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
from collections.abc import Callable

from envelope.codec import MAX_TOKEN_BYTES

B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_raw(payload: bytes, *, key: bytes, prefix: str = "v1") -> str:
    """A token whose MAC over ``payload`` is correct for ``key``, whatever the payload is."""
    signing_input = f"{prefix}.{b64(payload)}"
    mac = hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def flip_bit(token: str, rng: random.Random) -> str:
    raw = bytearray(token.encode("latin-1"))
    raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
    return raw.decode("latin-1")


def replace_char(token: str, rng: random.Random) -> str:
    position = rng.randrange(len(token))
    choices = [c for c in B64_ALPHABET + ".=+/ é\x00" if c != token[position]]
    return token[:position] + rng.choice(choices) + token[position + 1 :]


def truncate(token: str, rng: random.Random) -> str:
    return token[: rng.randrange(len(token))]


def repeat_segment(token: str, rng: random.Random) -> str:
    parts = token.split(".")
    index = rng.randrange(len(parts))
    return ".".join([*parts[: index + 1], parts[index], *parts[index + 1 :]])


def swap_segments(token: str, rng: random.Random) -> str:
    version, payload, signature = token.split(".")
    return rng.choice([f"{version}.{signature}.{payload}", f"{payload}.{version}.{signature}"])


def edit_payload(token: str, rng: random.Random) -> str:
    """Change one field of the JSON and re-encode it, keeping the old signature."""
    version, payload, signature = token.split(".")
    data = json.loads(unb64(payload))
    edits = {
        "region": "us-east-1",
        "model_id": "us.anthropic.claude-sonnet-4-20250514-v1:0",
        "endpoint_url": "https://attacker.example.com",
        "exp": data["exp"] + 86_400,
        "lineage": {**data["lineage"], "depth": 0},
        "auth": {"mode": "profile", "name": "admin"},
    }
    field = rng.choice(sorted(edits))
    data[field] = edits[field]
    return f"{version}.{b64(json.dumps(data, separators=(',', ':')).encode())}.{signature}"


def resign_with_another_key(token: str, rng: random.Random) -> str:
    """Same payload, signed with a key nobody in the fleet holds (same kid)."""
    payload = unb64(token.split(".")[1])
    return sign_raw(payload, key=rng.randbytes(32))


def rename_kid(token: str, rng: random.Random) -> str:
    """Same payload under a key id the fleet does not hold, signed by an outsider."""
    data = json.loads(unb64(token.split(".")[1]))
    data["kid"] = rng.choice(["retired", "k0", "default2", "../k1"])
    return sign_raw(json.dumps(data).encode(), key=rng.randbytes(32))


def oversize(token: str, rng: random.Random) -> str:
    version, payload, signature = token.split(".")
    padding = "A" * (MAX_TOKEN_BYTES + rng.randrange(1, 4096) - len(token))
    return f"{version}.{payload}{padding}.{signature}"


def garbage(token: str, rng: random.Random) -> str:
    alphabet = B64_ALPHABET + ".=é\x00\n"
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 200)))


MUTATIONS: tuple[Callable[[str, random.Random], str], ...] = (
    flip_bit,
    replace_char,
    truncate,
    repeat_segment,
    swap_segments,
    edit_payload,
    resign_with_another_key,
    rename_kid,
    oversize,
    garbage,
)


def mutate(token: str, rng: random.Random, *, rounds: int = 1) -> str:
    """Apply ``rounds`` random mutations; retry until the result differs from ``token``."""
    mutated = token
    while mutated == token:
        mutated = token
        for _ in range(rounds):
            step = rng.choice(MUTATIONS)
            if step in (repeat_segment, swap_segments, edit_payload) and mutated.count(".") != 2:
                step = flip_bit
            if not mutated:
                mutated = garbage(token, rng) or "x"
                continue
            try:
                mutated = step(mutated, rng)
            except (ValueError, KeyError, IndexError, TypeError):
                mutated = flip_bit(mutated, rng)  # the previous round broke the JSON or base64
    return mutated
