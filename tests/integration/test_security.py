"""The envelope as a security boundary, against real workers: key rotation while jobs wait,
expiry with its clock-skew allowance, the endpoint allowlist and its strict URL parsing, the size
limit, and 200 mutated tokens that must run nothing and crash nothing. Every refusal is
dead-lettered.
"""

from __future__ import annotations

import random
import secrets
import socket
import threading
import time
from collections import Counter

import pytest

from envelope import (
    AssumeRoleAuth,
    EnvelopeError,
    EnvelopeExpired,
    EnvelopeMalformed,
    Keyring,
    SealedAuth,
    decode,
    encode,
    parse_endpoint,
)
from tests.envelope.mutations import mutate
from tests.integration.harness import crafted, figures, publish, settle, wait_until
from workers import EndpointNotAllowed

pytestmark = pytest.mark.integration

ROLE = "arn:aws:iam::111122223333:role/baton-eu"


@pytest.fixture()
def producer(redis_urls, envelope_key):
    """Factory: a producer app (and its settings) signing with ``keys`` or the fleet's key."""
    from orchestrator import ProducerSettings, close_producer, producer_app

    broker, backend = redis_urls
    apps = []

    def make(keys: str | None = None):
        settings = ProducerSettings(
            broker_url=broker,
            result_backend=backend,
            envelope_key=None if keys else envelope_key,
            envelope_keys=keys,
        )
        app = producer_app(settings)
        apps.append(app)
        return app, settings.keyring()

    yield make
    for app in apps:
        close_producer(app)


def dead_letters(app) -> list[dict]:
    from workers import DeadLetters

    return DeadLetters(app).entries()


def test_queued_jobs_survive_a_key_rotation_and_a_retired_key_is_refused(
    emulator_proc, start_worker, producer
):
    k1, k2 = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    emulator = emulator_proc("eu-west-1")
    app, ring1 = producer(f"k1:{k1}")
    _, ring2 = producer(f"k2:{k2}")
    queued = [publish(app, crafted(emulator.url, keyring=ring1)) for _ in range(5)]

    rotating = start_worker(env={"BATON_ENVELOPE_KEYS": f"k2:{k2},k1:{k1}"})
    outcome = settle(app, [job.id for job in queued], timeout=30)
    rotating.proc.stop()
    late = publish(app, crafted(emulator.url, keyring=ring1))
    current = publish(app, crafted(emulator.url, keyring=ring2))
    start_worker(env={"BATON_ENVELOPE_KEYS": f"k2:{k2}"})

    assert current.get(timeout=30)["region"] == "eu-west-1"
    wait_until(lambda: len(dead_letters(app)) == 1, timeout=30)
    # Under a key this worker no longer holds, its binding cannot be checked: nothing is stored
    # under its id, and its dead letter names the key (replay it once the key is back).
    assert app.AsyncResult(late.id).state == "PENDING"
    assert "names key id 'k1', which this worker does not hold" in dead_letters(app)[0]["message"]
    assert outcome.lost == []
    dead = dead_letters(app)
    figures(
        "key rotation",
        queued_under_k1=len(queued),
        ran=5 - len(outcome.lost),
        refused_after_retirement=len(dead),
    )
    assert [(r["job_id"], r["reason"]) for r in dead] == [(late.id, "envelope_unknown_key")]
    assert len(emulator.calls("Converse")) == 6


@pytest.mark.parametrize(
    ("seconds_past_exp", "runs"),
    [(10, True), (20, True), (45, False), (300, False)],
    ids=["10s-past", "20s-past", "45s-past", "5min-past"],
)
def test_expiry_has_a_30_second_clock_skew_allowance(
    emulator_proc, start_worker, producer, seconds_past_exp, runs
):
    emulator = emulator_proc("eu-west-1")
    start_worker()
    app, ring = producer()
    exp = int(time.time()) - seconds_past_exp
    job = publish(app, crafted(emulator.url, keyring=ring, iat=exp - 600, exp=exp))

    if runs:
        assert job.get(timeout=30)["region"] == "eu-west-1"
        assert len(emulator.calls("Converse")) == 1
    else:
        with pytest.raises(EnvelopeExpired, match="expired"):
            job.get(timeout=30)
        assert emulator.calls() == []
        assert [r["reason"] for r in dead_letters(app)] == ["envelope_expired"]


def test_a_signed_envelope_naming_an_endpoint_outside_the_allowlist_is_refused(
    emulator_proc, start_worker, producer
):
    real, decoy = emulator_proc("eu-west-1"), emulator_proc("eu-west-1")
    start_worker(env={"BATON_ALLOWED_ENDPOINTS": real.url})
    app, ring = producer()
    assume = AssumeRoleAuth(role_arn=ROLE, session_name="baton-allowlist")
    to_decoy = publish(app, crafted(decoy.url, keyring=ring))
    role_at_decoy = publish(app, crafted(decoy.url, keyring=ring, auth=assume))
    to_real = publish(app, crafted(real.url, keyring=ring))

    for job in (to_decoy, role_at_decoy):
        with pytest.raises(EndpointNotAllowed, match="BATON_ALLOWED_ENDPOINTS"):
            job.get(timeout=30)
    assert to_real.get(timeout=30)["endpoint"] == real.url

    figures("endpoint allowlist", refused=2, decoy_requests=len(decoy.calls()))
    assert decoy.calls() == []  # not a Converse, not even an STS AssumeRole
    assert [r["reason"] for r in dead_letters(app)] == ["endpoint_not_allowed"] * 2


class Listener:
    """A TCP port on loopback that counts the connections made to it and answers none."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._socket.settimeout(0.1)
        self.port = self._socket.getsockname()[1]
        self.connections = 0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            self.connections += 1
            connection.close()

    def close(self) -> None:
        self._stopped.set()
        self._thread.join()
        self._socket.close()


def forged(endpoint: str, *, keyring: Keyring, **overrides: object) -> str:
    """An envelope a key holder signed for ``endpoint``, past the producer's own URL check."""
    envelope = decode(crafted(None, keyring=keyring, **overrides), keyring=keyring)
    return encode(envelope.model_copy(update={"endpoint_url": endpoint}), keyring=keyring)


def test_an_endpoint_urllib3_reads_differently_is_refused_and_its_real_port_never_connected(
    emulator_proc, start_worker, producer
):
    emulator = emulator_proc("eu-west-1")
    allowed = parse_endpoint(emulator.url)
    decoy = Listener()
    try:
        start_worker(env={"BATON_ALLOWED_ENDPOINTS": emulator.url})
        app, ring = producer()
        # urlsplit reads port A, the allowed emulator; urllib3 connects to port B, the decoy.
        tricky = f"http://127.0.0.1:{decoy.port}\\@127.0.0.1:{allowed.port}"
        assume = AssumeRoleAuth(role_arn=ROLE, session_name="baton-backslash")
        jobs = [
            publish(app, forged(tricky, keyring=ring)),
            publish(app, forged(tricky, keyring=ring, auth=assume)),
            publish(app, forged(f"http://127.0.0.1:{decoy.port}\\@localhost", keyring=ring)),
        ]
        for job in jobs:
            with pytest.raises(EndpointNotAllowed, match="backslash"):
                job.get(timeout=30)
        honest = publish(app, crafted(emulator.url, keyring=ring)).get(timeout=30)
    finally:
        decoy.close()

    figures("backslash endpoint", refused=len(jobs), decoy_connections=decoy.connections)
    assert decoy.connections == 0  # no Converse, no STS AssumeRole, not even a TCP handshake
    assert [r["reason"] for r in dead_letters(app)] == ["endpoint_not_allowed"] * len(jobs)
    assert honest["endpoint"] == emulator.url
    assert [c["operation"] for c in emulator.calls()] == ["Converse"]


def test_a_token_over_4_kib_is_refused_before_parsing_even_when_correctly_signed(
    emulator_proc, start_worker, producer
):
    emulator = emulator_proc("eu-west-1")
    start_worker()
    app, ring = producer()
    sealed = SealedAuth(ciphertext="c" * 3072, exp=int(time.time()) + 600)
    token = crafted(emulator.url, keyring=ring, auth=sealed, model_id="m" * 2048)
    garbage = "v1." + "A" * 5000 + ".x"
    jobs = [publish(app, token), publish(app, garbage)]

    wait_until(lambda: len(dead_letters(app)) == len(jobs), timeout=30)
    for record in dead_letters(app):  # unbound (no binding fits such a token): none stored
        assert record["reason"] == EnvelopeMalformed.code
        assert "over the 4096-byte limit" in record["message"]
        assert app.AsyncResult(record["job_id"]).state == "PENDING"
    assert len(token) > 4096
    assert emulator.calls() == []


FUZZED_JOBS = 200


def test_two_hundred_mutated_tokens_run_nothing_and_crash_no_worker(
    emulator_proc, start_worker, producer
):
    emulator = emulator_proc("eu-west-1")
    running = start_worker(pool="prefork", concurrency=2)
    app, ring = producer()
    rng = random.Random(20261128)
    valid = [crafted(emulator.url, keyring=ring) for _ in range(10)]
    tokens: list[object] = [
        mutate(rng.choice(valid), rng, rounds=rng.randint(1, 3)) for _ in range(FUZZED_JOBS - 4)
    ]
    tokens += [12345, ["v1", "a", "b"], {"token": valid[0]}, ""]
    jobs = [publish(app, token, prompt=f"fuzz {i}") for i, token in enumerate(tokens)]

    wait_until(lambda: len(dead_letters(app)) == FUZZED_JOBS, timeout=90)
    outcome = settle(app, [job.id for job in jobs], timeout=0)
    errors = Counter(record["error"] for record in dead_letters(app))
    children_before = running.children()
    after = publish(app, valid[0], prompt="still alive").get(timeout=30)

    figures(
        "fuzz through a real worker",
        published=len(jobs),
        executions=len(emulator.calls()) - 1,
        failures_stored=sum(state == "FAILURE" for state in outcome.states.values()),
        dead_lettered=len(dead_letters(app)),
        worker_crashes=int(running.proc.popen.poll() is not None),
        errors=dict(errors),
    )
    # Edited tokens: the producer bound some (their key id still reads), but their signature
    # fails, so no key holder made them and nothing is stored under the ids they carry.
    assert set(outcome.states.values()) == {"PENDING"}
    assert sum(errors.values()) == FUZZED_JOBS
    assert all(issubclass(_envelope_error(name), EnvelopeError) for name in errors)
    assert len(dead_letters(app)) == FUZZED_JOBS
    assert after["text"].endswith("still alive")
    assert running.proc.popen.poll() is None
    assert running.children() == children_before, "a pool child died and was replaced"
    assert [c["operation"] for c in emulator.calls()] == ["Converse"]


def _envelope_error(name: str) -> type:
    import envelope

    return getattr(envelope, name, object)


def test_repr_of_settings_envelopes_and_keyrings_never_shows_a_secret():
    from orchestrator import ProducerSettings
    from workers import WorkerSettings

    key, keys = secrets.token_urlsafe(32), f"k2:{secrets.token_urlsafe(32)}"
    seal = secrets.token_urlsafe(32)
    ring = Keyring.from_env_values(key=None, keys=keys)
    sealed = SealedAuth(ciphertext=secrets.token_urlsafe(64), exp=int(time.time()) + 60)
    envelope = decode(crafted(None, keyring=ring, auth=sealed), keyring=ring)
    texts = [
        repr(WorkerSettings(envelope_key=key, envelope_keys=keys, seal_key=seal)),
        repr(ProducerSettings(envelope_key=key, envelope_keys=keys, seal_key=seal)),
        repr(ring),
        str(ring),
        repr(envelope),
        str(envelope),
        repr(envelope.auth),
    ]
    for text in texts:
        for secret in (key, keys, keys.split(":", 1)[1], seal, sealed.ciphertext):
            assert secret not in text, text
