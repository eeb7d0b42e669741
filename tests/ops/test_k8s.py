"""ops/k8s: every manifest parsed, and the fleet's invariants checked across them (no cluster)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import yaml

from tests.ops.conftest import Manifest
from tests.ops.fleet import (
    CREDENTIAL_NAME,
    DOCKERFILE,
    FLEET,
    FLEET_REGIONS,
    K8S_DIR,
    KUSTOMIZATION,
    METRICS_PORT,
    SECRET_TEMPLATE,
    URL_WITH_CREDENTIALS,
    csv_set,
    is_worker_command,
    option_values,
    queue,
    strings_in,
)

NAMESPACE = "baton"
SOFT_SHUTDOWN_VARIABLE = "BATON_SOFT_SHUTDOWN_TIMEOUT"
#: Settings that embed the Redis password even though their names do not say so.
CREDENTIAL_URLS = {"BATON_BROKER_URL", "BATON_RESULT_BACKEND"}
PLACEHOLDER = re.compile(r"<[^<>]+>")
CLUSTER_SCOPED = {"Namespace"}


def of_kind(manifests: list[Manifest], kind: str) -> list[Manifest]:
    return [m for m in manifests if m.kind == kind]


def applied(manifests: list[Manifest]) -> list[Manifest]:
    return [m for m in manifests if m.file != SECRET_TEMPLATE]


def pod_spec(deployment: Manifest) -> dict[str, Any]:
    return deployment.doc["spec"]["template"]["spec"]


def containers(deployment: Manifest) -> list[dict[str, Any]]:
    return pod_spec(deployment)["containers"]


def argv(container: dict[str, Any]) -> list[str]:
    return [str(part) for part in container.get("command", []) + container.get("args", [])]


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in container.get("env", [])}


def worker_container(deployment: Manifest) -> dict[str, Any]:
    found = [c for c in containers(deployment) if is_worker_command(argv(c))]
    assert len(found) == 1, f"{deployment.name}: expected one `baton worker` container"
    return found[0]


def worker_deployments(manifests: list[Manifest]) -> list[Manifest]:
    found = [
        d
        for d in of_kind(manifests, "Deployment")
        if any(is_worker_command(argv(c)) for c in containers(d))
    ]
    assert found, "no Deployment runs `baton worker`"
    return found


def regions_served(deployment: Manifest) -> set[str]:
    return set(option_values(argv(worker_container(deployment)), "--region"))


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    match_labels = selector.get("matchLabels") or {}
    assert match_labels and not selector.get("matchExpressions"), "selectors use matchLabels"
    return all(labels.get(key) == value for key, value in match_labels.items())


def template_labels(deployment: Manifest) -> dict[str, str]:
    return deployment.doc["spec"]["template"]["metadata"]["labels"]


def secret_template(manifests: list[Manifest]) -> Manifest:
    found = [m for m in manifests if m.file == SECRET_TEMPLATE]
    assert len(found) == 1 and found[0].kind == "Secret", f"{SECRET_TEMPLATE} holds one Secret"
    return found[0]


def secret_values(manifests: list[Manifest]) -> dict[str, str]:
    return dict(secret_template(manifests).doc.get("stringData") or {})


def test_every_manifest_has_an_api_version_a_kind_and_a_name(manifests):
    for manifest in manifests:
        assert manifest.doc.get("apiVersion") and manifest.kind, manifest.file
        assert manifest.name, f"{manifest.file}: a {manifest.kind} without a name"


def test_every_namespaced_object_lives_in_the_baton_namespace(manifests):
    assert [m.name for m in of_kind(manifests, "Namespace")] == [NAMESPACE]
    for manifest in manifests:
        if manifest.kind not in CLUSTER_SCOPED:
            namespace = manifest.doc["metadata"].get("namespace")
            assert namespace == NAMESPACE, f"{manifest.file}: {manifest.kind} {manifest.name}"


def test_every_fleet_region_is_served_by_exactly_one_worker_deployment(manifests):
    served = [r for d in worker_deployments(manifests) for r in regions_served(d)]
    assert sorted(served) == sorted(FLEET_REGIONS)


def test_each_region_group_has_its_own_worker_deployment(manifests):
    assert {d.name: regions_served(d) for d in worker_deployments(manifests)} == {
        f"baton-worker-{group}": set(regions) for group, regions in FLEET.items()
    }


def test_each_deployment_allows_exactly_the_regions_it_consumes(manifests):
    for deployment in worker_deployments(manifests):
        env = env_of(worker_container(deployment))
        allowed = csv_set(env["BATON_ALLOWED_REGIONS"]["value"])
        assert allowed == regions_served(deployment), deployment.name


def test_workers_use_threads_and_serve_metrics_on_the_agreed_port(manifests):
    for deployment in worker_deployments(manifests):
        container = worker_container(deployment)
        assert option_values(argv(container), "--pool") == ["threads"], deployment.name
        assert option_values(argv(container), "--metrics-port") == [str(METRICS_PORT)]
        # The default, 127.0.0.1, would hide the metrics from Prometheus.
        assert option_values(argv(container), "--metrics-host") == ["0.0.0.0"], deployment.name
        ports = {port["name"]: port["containerPort"] for port in container.get("ports", [])}
        assert ports.get("metrics") == METRICS_PORT, deployment.name


def test_termination_grace_period_exceeds_the_soft_shutdown_timeout(manifests):
    for deployment in worker_deployments(manifests):
        soft = env_of(worker_container(deployment)).get(SOFT_SHUTDOWN_VARIABLE)
        assert soft and "value" in soft, f"{deployment.name}: {SOFT_SHUTDOWN_VARIABLE} is unset"
        grace = pod_spec(deployment).get("terminationGracePeriodSeconds", 30)
        assert grace > float(soft["value"]), deployment.name


def test_every_deployment_has_a_disruption_budget_selecting_only_its_pods(manifests):
    deployments = worker_deployments(manifests)
    budgets = of_kind(manifests, "PodDisruptionBudget")
    for deployment in deployments:
        mine = [
            b for b in budgets if selects(b.doc["spec"]["selector"], template_labels(deployment))
        ]
        assert len(mine) == 1, f"{deployment.name}: {len(mine)} PodDisruptionBudgets"
        others = [d for d in deployments if d is not deployment]
        assert not any(selects(mine[0].doc["spec"]["selector"], template_labels(d)) for d in others)
        spec = mine[0].doc["spec"]
        assert spec.get("maxUnavailable") == 1 or spec.get("minAvailable"), deployment.name


def scaled_object_of(manifests: list[Manifest], deployment: Manifest) -> Manifest:
    found = [
        s
        for s in of_kind(manifests, "ScaledObject")
        if s.doc["spec"]["scaleTargetRef"]["name"] == deployment.name
        and s.doc["spec"]["scaleTargetRef"].get("kind", "Deployment") == "Deployment"
    ]
    assert len(found) == 1, f"{deployment.name}: {len(found)} ScaledObjects"
    return found[0]


def test_every_deployment_has_a_scaled_object_whose_triggers_cover_exactly_its_queues(manifests):
    for deployment in worker_deployments(manifests):
        triggers = scaled_object_of(manifests, deployment).doc["spec"]["triggers"]
        assert {t["type"] for t in triggers} == {"redis"}, deployment.name
        lists = [t["metadata"]["listName"] for t in triggers]
        assert sorted(lists) == sorted(queue(r) for r in regions_served(deployment))
        assert all(int(t["metadata"]["listLength"]) > 0 for t in triggers)


def test_scaling_keeps_at_least_two_workers_per_group(manifests):
    for deployment in worker_deployments(manifests):
        spec = scaled_object_of(manifests, deployment).doc["spec"]
        assert 2 <= spec["minReplicaCount"] < spec["maxReplicaCount"], deployment.name
        assert "replicas" not in deployment.doc["spec"], "the ScaledObject owns the count"


def test_broker_backend_and_keda_are_separate_redis_acl_users(manifests):
    """A broker writer must not be a backend writer: ops/redis/users.acl gives each its keys."""
    values = secret_values(manifests)
    broker, backend = urlsplit(values["broker-url"]), urlsplit(values["result-backend"])
    assert (broker.username, backend.username) == ("baton-broker", "baton-backend")
    assert broker.password != backend.password
    assert values["redis-keda-username"] == "<baton-keda>"
    assert "redis-password" not in values, "no password shared by every side"


def test_keda_measures_the_broker_database_at_an_address_the_worker_defines(manifests):
    broker_db = urlsplit(secret_values(manifests)["broker-url"]).path.strip("/")
    for deployment in worker_deployments(manifests):
        env = env_of(worker_container(deployment))
        for trigger in scaled_object_of(manifests, deployment).doc["spec"]["triggers"]:
            metadata = trigger["metadata"]
            assert metadata.get("databaseIndex", "0") == broker_db
            assert "address" not in metadata, "the address comes from the Secret"
            assert metadata["addressFromEnv"] in env, deployment.name


def test_scaled_objects_authenticate_through_a_secret_backed_trigger_authentication(manifests):
    auths = {m.name: m for m in of_kind(manifests, "TriggerAuthentication")}
    keys = set(secret_values(manifests))
    for scaled in of_kind(manifests, "ScaledObject"):
        for trigger in scaled.doc["spec"]["triggers"]:
            assert not {"password", "passwordFromEnv"} & set(trigger["metadata"])
            auth = auths[trigger["authenticationRef"]["name"]]
            refs = auth.doc["spec"]["secretTargetRef"]
            assert {ref["parameter"] for ref in refs} == {"username", "password"}
            assert all(ref["key"] in keys for ref in refs), auth.name


def test_pods_run_as_the_images_non_root_user_without_privilege_escalation(manifests):
    image_user = re.search(r"^USER\s+(\d+)", DOCKERFILE.read_text(), flags=re.MULTILINE)
    assert image_user, "ops/Dockerfile sets a numeric USER"
    for deployment in of_kind(manifests, "Deployment"):
        pod = pod_spec(deployment).get("securityContext", {})
        assert pod.get("runAsNonRoot") is True, deployment.name
        assert pod.get("runAsUser") == int(image_user[1]), deployment.name
        for container in containers(deployment):
            context = container.get("securityContext", {})
            assert context.get("runAsNonRoot", True) is True
            assert context.get("allowPrivilegeEscalation") is False, container["name"]
            assert context.get("capabilities", {}).get("drop") == ["ALL"], container["name"]


def test_every_container_has_startup_readiness_and_liveness_probes(manifests):
    for deployment in of_kind(manifests, "Deployment"):
        for container in containers(deployment):
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                assert container.get(probe), f"{deployment.name}/{container['name']}: {probe}"


def test_worker_probes_ping_their_own_node(manifests):
    for deployment in worker_deployments(manifests):
        container = worker_container(deployment)
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            command = " ".join(container[probe]["exec"]["command"])
            assert "ping()" in command and "socket.gethostname()" in command, probe


def test_every_container_sets_resource_requests_and_a_memory_limit(manifests):
    for deployment in of_kind(manifests, "Deployment"):
        for container in containers(deployment):
            resources = container.get("resources", {})
            assert {"cpu", "memory"} <= set(resources.get("requests", {})), deployment.name
            assert "memory" in resources.get("limits", {}), deployment.name


def test_credential_variables_come_only_from_secret_references(manifests):
    checked = 0
    for deployment in of_kind(manifests, "Deployment"):
        for container in containers(deployment):
            for name, entry in env_of(container).items():
                if CREDENTIAL_NAME.search(name) or name in CREDENTIAL_URLS:
                    checked += 1
                    assert "value" not in entry, f"{deployment.name}: {name} has a literal"
                    assert entry["valueFrom"].get("secretKeyRef"), f"{deployment.name}: {name}"
    assert checked >= 3 * len(FLEET), "envelope key, broker URL and backend URL per group"


def test_no_applied_manifest_carries_a_secret_or_url_credentials(manifests):
    assert of_kind(applied(manifests), "Secret") == []
    leaked = [
        s for m in applied(manifests) for s in strings_in(m.doc) if URL_WITH_CREDENTIALS.search(s)
    ]
    assert leaked == []


def test_every_referenced_secret_key_is_documented_in_the_template(manifests):
    template = secret_template(manifests)
    referenced = set()
    for deployment in of_kind(manifests, "Deployment"):
        for container in containers(deployment):
            for entry in env_of(container).values():
                ref = entry.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    referenced.add((ref["name"], ref["key"]))
    for auth in of_kind(manifests, "TriggerAuthentication"):
        referenced |= {(ref["name"], ref["key"]) for ref in auth.doc["spec"]["secretTargetRef"]}
    assert referenced, "nothing references the Secret"
    assert referenced <= {(template.name, key) for key in secret_values(manifests)}


def test_the_secret_template_holds_only_placeholders(manifests):
    template = secret_template(manifests)
    assert "data" not in template.doc, "base64 data would hide real values"
    values = secret_values(manifests)
    assert values
    for key, value in values.items():
        assert PLACEHOLDER.search(value), f"{key} has no <placeholder>"
        if CREDENTIAL_NAME.search(key.upper().replace("-", "_")):
            assert PLACEHOLDER.fullmatch(value), f"{key} must be only a placeholder"


def test_kustomization_applies_every_manifest_except_the_secret_template():
    kustomization = yaml.safe_load((K8S_DIR / KUSTOMIZATION).read_text())
    files = {path.name for path in K8S_DIR.glob("*.yaml")} - {KUSTOMIZATION}
    assert set(kustomization["resources"]) == files - {SECRET_TEMPLATE}


def test_the_metrics_service_selects_every_worker_and_targets_the_metrics_port(manifests):
    services = of_kind(manifests, "Service")
    deployments = worker_deployments(manifests)
    metrics = [
        s
        for s in services
        if all(
            selects({"matchLabels": s.doc["spec"]["selector"]}, template_labels(d))
            for d in deployments
        )
    ]
    assert len(metrics) == 1
    spec = metrics[0].doc["spec"]
    assert spec.get("clusterIP") == "None", "headless, so Prometheus sees every pod"
    assert [(p["port"], p["targetPort"]) for p in spec["ports"]] == [(METRICS_PORT, "metrics")]
