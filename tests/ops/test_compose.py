"""docker-compose.yml: the multi-region demo fleet, checked by parsing (no Docker engine here)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from envelope import geographies_of, geography_prefix
from tests.ops.fleet import (
    COMPOSE_FILE,
    CREDENTIAL_NAME,
    EMULATOR_TEST_SECRET,
    FLEET,
    FLEET_REGIONS,
    METRICS_PORT,
    REQUIRED_INTERPOLATION,
    URL_WITH_CREDENTIALS,
    csv_set,
    is_worker_command,
    option_values,
    strings_in,
)

#: Services that run once and exit, so a healthcheck would mean nothing.
ONE_SHOT_SERVICES = {"orchestrator"}

#: The shutdown budget jobs get; the container's grace period must exceed it.
SOFT_SHUTDOWN_VARIABLE = "BATON_SOFT_SHUTDOWN_TIMEOUT"


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = compose.get("services") or {}
    assert found, "docker-compose.yml defines no services"
    return found


def command_of(service: dict[str, Any]) -> list[str]:
    command = service.get("command") or []
    assert isinstance(command, list), "commands are written in exec form (a list)"
    return [str(part) for part in command]


def env_of(service: dict[str, Any]) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        return dict(item.split("=", 1) for item in raw)
    return {str(key): str(value) for key, value in raw.items()}


def worker_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {
        name: service
        for name, service in services(compose).items()
        if is_worker_command(command_of(service))
    }
    assert found, "no service runs `baton worker`"
    return found


def regions_served(service: dict[str, Any]) -> set[str]:
    return set(option_values(command_of(service), "--region"))


def seconds(duration: str) -> float:
    """Parse a compose duration such as ``90s`` or ``1m30s``."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration)
    assert parts, f"{duration!r} is not a compose duration"
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    return sum(float(number) * scale[unit] for number, unit in parts)


def test_every_fleet_region_is_served_by_exactly_one_worker_service(compose):
    served = [region for s in worker_services(compose).values() for region in regions_served(s)]
    assert sorted(served) == sorted(FLEET_REGIONS)


def test_each_region_group_has_its_own_worker_service(compose):
    workers = worker_services(compose)
    assert {name: regions_served(s) for name, s in workers.items()} == {
        f"worker-{group}": set(regions) for group, regions in FLEET.items()
    }


def test_each_worker_allows_exactly_the_regions_it_consumes(compose):
    for name, service in worker_services(compose).items():
        allowed = csv_set(env_of(service).get("BATON_ALLOWED_REGIONS", ""))
        assert allowed == regions_served(service), name


def test_the_emulator_allows_every_fleet_region(compose):
    command = command_of(services(compose)["emulator"])
    assert command[:2] == ["baton", "emulator"]
    assert set(option_values(command, "--allow-region")) == FLEET_REGIONS


def test_the_orchestrator_fans_out_to_every_fleet_region(compose):
    orchestrator = services(compose)["orchestrator"]
    script = " ".join(command_of(orchestrator))
    assert "baton run" in script
    assert 'AWS_REGION="$$region"' in script, "each parent must get its own AWS_REGION"
    assert set(env_of(orchestrator)["FANOUT_REGIONS"].split()) == FLEET_REGIONS


def test_the_orchestrator_endpoint_is_allowlisted_on_parents_and_workers(compose):
    endpoint = urlsplit(env_of(services(compose)["orchestrator"])["AWS_BEDROCK_ENDPOINT"])
    assert endpoint.hostname == "emulator"
    emulator_port = option_values(command_of(services(compose)["emulator"]), "--port")
    assert [str(endpoint.port)] == emulator_port
    for name in ["orchestrator", *worker_services(compose)]:
        allowlist = csv_set(
            env_of(services(compose)[name]).get("BATON_ALLOW_INSECURE_ENDPOINTS", "")
        )
        assert endpoint.netloc in allowlist, name


def test_credential_variables_are_required_interpolations_never_literals(compose):
    checked = 0
    for name, service in services(compose).items():
        for variable, value in env_of(service).items():
            if CREDENTIAL_NAME.search(variable):
                checked += 1
                assert REQUIRED_INTERPOLATION.fullmatch(value), f"{name}: {variable}={value!r}"
    assert checked >= 3 * len(FLEET), "each worker carries a key, a secret key and a token"


def test_no_credential_interpolation_falls_back_to_a_default():
    text = COMPOSE_FILE.read_text()
    names = re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:?-)", text)
    assert [name for name, _ in names if CREDENTIAL_NAME.search(name)] == []


#: A URL's password: written out, or a compose interpolation (which may hold spaces).
URL_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s@:]*:(\$\{[^}]*\}|[^/\s@]+)@")


def test_no_test_secret_or_url_credentials_appear_in_the_compose_file(compose):
    assert EMULATOR_TEST_SECRET not in COMPOSE_FILE.read_text()
    assert [s for s in strings_in(compose) if URL_WITH_CREDENTIALS.search(s)] == []
    passwords = [m[1] for s in strings_in(compose) for m in URL_PASSWORD.finditer(s)]
    assert passwords, "the broker and backend URLs carry their ACL users' passwords"
    assert [p for p in passwords if not REQUIRED_INTERPOLATION.fullmatch(p)] == []


def test_every_long_running_service_has_a_healthcheck(compose):
    for name, service in services(compose).items():
        if name in ONE_SHOT_SERVICES:
            assert service.get("restart") == "no", f"{name} is one-shot and must not restart"
            continue
        healthcheck = service.get("healthcheck") or {}
        assert healthcheck.get("test") and not healthcheck.get("disable"), name


def test_every_dependency_waits_for_a_healthy_service(compose):
    all_services = services(compose)
    edges = 0
    for name, service in all_services.items():
        depends_on = service.get("depends_on") or {}
        assert isinstance(depends_on, dict), f"{name}: depends_on needs conditions"
        for target, spec in depends_on.items():
            edges += 1
            assert spec.get("condition") == "service_healthy", f"{name} -> {target}"
            assert all_services[target].get("healthcheck", {}).get("test"), target
    assert edges >= len(FLEET) * 2 + len(FLEET), (
        "workers wait for redis+emulator, parents for workers"
    )


def test_the_orchestrator_starts_after_every_worker_is_healthy(compose):
    depends_on = services(compose)["orchestrator"].get("depends_on") or {}
    assert set(worker_services(compose)) <= set(depends_on)


def test_worker_healthchecks_ping_their_own_node(compose):
    for name, service in worker_services(compose).items():
        probe = " ".join(service["healthcheck"]["test"])
        assert "ping()" in probe and "socket.gethostname()" in probe, name


@pytest.mark.parametrize("variable", ["AWS_REGION", "AWS_DEFAULT_REGION"])
def test_workers_have_a_wrong_local_default_region(compose, variable):
    for name, service in worker_services(compose).items():
        value = env_of(service).get(variable)
        assert value, f"{name} must set {variable} to show that it is ignored"
        assert value not in regions_served(service), f"{name}: {variable}={value} is not wrong"


def test_workers_have_a_decoy_endpoint_and_an_ambient_bearer_token(compose):
    for name, service in worker_services(compose).items():
        env = env_of(service)
        decoy = urlsplit(env.get("AWS_ENDPOINT_URL", ""))
        assert decoy.hostname and decoy.hostname.endswith(".invalid"), name
        assert REQUIRED_INTERPOLATION.fullmatch(env.get("AWS_BEARER_TOKEN_BEDROCK", "")), name


def test_workers_have_a_model_of_the_wrong_geography(compose):
    for name, service in worker_services(compose).items():
        prefix = geography_prefix(env_of(service).get("ANTHROPIC_MODEL", ""))
        assert prefix is not None, f"{name} must set ANTHROPIC_MODEL to a geography profile"
        for region in regions_served(service):
            assert prefix not in geographies_of(region), f"{name}: {prefix}. fits {region}"


def test_redis_persists_with_aof_and_never_evicts(compose):
    command = command_of(services(compose)["redis"])
    assert option_values(command, "--appendonly") == ["yes"]
    assert option_values(command, "--maxmemory-policy") == ["noeviction"]
    assert any(":/data" in volume for volume in services(compose)["redis"].get("volumes", []))


def test_workers_stop_grace_period_exceeds_their_shutdown_budget(compose):
    for name, service in worker_services(compose).items():
        budget = float(env_of(service)[SOFT_SHUTDOWN_VARIABLE])
        assert seconds(str(service.get("stop_grace_period", "10s"))) > budget, name


def test_workers_serve_metrics_on_the_agreed_port(compose):
    for name, service in worker_services(compose).items():
        assert option_values(command_of(service), "--metrics-port") == [str(METRICS_PORT)], name
        # The default, 127.0.0.1, would be unreachable through the published port.
        assert option_values(command_of(service), "--metrics-host") == ["0.0.0.0"], name
        published = [str(port).rsplit(":", 1)[-1] for port in service.get("ports", [])]
        assert published == [str(METRICS_PORT)], name


def test_published_ports_listen_on_loopback_only(compose):
    ports = [str(p) for service in services(compose).values() for p in service.get("ports", [])]
    assert ports, "the emulator, Flower and worker metrics are published for the quick start"
    assert all(port.startswith("127.0.0.1:") for port in ports), ports
