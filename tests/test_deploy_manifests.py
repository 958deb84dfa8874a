"""The shipped compose file, Dockerfile, HAProxy config and Kubernetes manifests, loaded and held
to what a deployment that survives a replica's death needs: pinned images, start order by
health, one health check, the proxy the only public port and trusted by its own address alone,
a database password that may hold any character, and on Kubernetes readiness-gated rollouts
that stop a pod only after it has left the rotation."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from vidhook.receiver import __version__
from vidhook.receiver.config import parse_settings
from vidhook.receiver.store.pg_schema import parse_target

DEPLOY = Path(__file__).parent.parent / "deploy"
REPLICAS = ("vidhook-1", "vidhook-2")


def _compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def _interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's `${NAME}` and `${NAME:?message}` substitution."""
    return re.sub(r"\$\{([A-Z_]+)(?::\?[^}]*)?\}", lambda m: env[m.group(1)], value)


def _any_env(text: str) -> dict[str, str]:
    names = re.findall(r"\$\{([A-Z_]+)\}", text)
    return {name: f"{name.lower()}-value-0123456789" for name in names}


def _k8s(name: str) -> list[dict[str, Any]]:
    return list(yaml.safe_load_all((DEPLOY / "k8s" / name).read_text()))


def test_compose_pins_every_image_to_a_version():
    for name, service in _compose()["services"].items():
        image = service["image"]
        assert re.fullmatch(r"[a-z0-9./-]+:\d+\.\d+(\.\d+)?(-[a-z0-9.]+)?", image), (name, image)
    for line in (DEPLOY / "Dockerfile").read_text().splitlines():
        if line.startswith("FROM "):
            assert re.match(r"FROM python:\d+\.\d+\.\d+-slim-\w+", line), line


def test_compose_starts_in_order_of_health():
    services = _compose()["services"]
    assert "healthcheck" in services["postgres"]
    for name in REPLICAS:
        assert services[name]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    proxy_waits_for = services["haproxy"]["depends_on"]
    assert proxy_waits_for == {name: {"condition": "service_healthy"} for name in REPLICAS}


def test_compose_and_dockerfile_check_the_same_readiness():
    text = (DEPLOY / "Dockerfile").read_text()
    healthcheck = re.search(r"HEALTHCHECK (.*?)\\\n\s+CMD (\[.*\])", text)
    assert healthcheck is not None
    options, command = healthcheck.groups()
    for name in REPLICAS:
        check = _compose()["services"][name]["healthcheck"]
        assert check["test"] == ["CMD", *yaml.safe_load(command)]
        assert "/readyz" in check["test"][-1]
        assert options.split() == [
            f"--interval={check['interval']}", f"--timeout={check['timeout']}",
            f"--start-period={check['start_period']}", f"--retries={check['retries']}",
        ]  # fmt: skip


def test_only_the_proxy_is_public_and_replicas_publish_on_loopback_only():
    services = _compose()["services"]
    assert services["haproxy"]["ports"] == ["443:443"]
    assert "ports" not in services["postgres"]
    env = _replica_env(services["vidhook-1"]["environment"], "pw")
    server = parse_settings((DEPLOY / "vidhook.postgres.toml").read_text(), env=env).server
    assert server.internal_port is not None and server.internal_port != server.port
    for name in REPLICAS:
        (published,) = services[name]["ports"]  # the internal listener, on the host's loopback
        assert re.fullmatch(rf"127\.0\.0\.1:\d+:{server.internal_port}", published), name
    assert "store" not in services["haproxy"]["networks"]  # the proxy cannot reach the database


def test_the_replicas_trust_the_proxys_pinned_address_only():
    compose = _compose()
    address = compose["services"]["haproxy"]["networks"]["edge"]["ipv4_address"]
    subnet = compose["networks"]["edge"]["ipam"]["config"][0]["subnet"]
    assert address.rsplit(".", 1)[0] == subnet.rsplit(".", 1)[0]
    env = compose["services"]["vidhook-1"]["environment"]
    assert env["VIDHOOK_PROXY_ADDRESS"] == address
    text = (DEPLOY / "vidhook.postgres.toml").read_text()
    settings = parse_settings(text, env=_replica_env(env, "pw"))
    assert settings.server.trusted_proxies == [f"{address}/32"]


def test_the_haproxy_config_names_the_compose_replicas_and_publishes_one_port():
    text = (DEPLOY / "haproxy.cfg").read_text()
    servers = re.findall(r"^\s+server (\S+) (\S+)", text, re.MULTILINE)
    assert servers == [(name, f"{name}:8080") for name in REPLICAS]
    binds = re.findall(r"^\s+bind (\S+)", text, re.MULTILINE)
    assert binds == [":443"]
    assert "option http-buffer-request" in text
    assert re.search(r"^\s+retry-on .*conn-failure.*empty-response", text, re.MULTILINE)
    assert re.search(r"^\s+option redispatch", text, re.MULTILINE)


def _replica_env(env: dict[str, str], password: str) -> dict[str, str]:
    dotenv = {"POSTGRES_PASSWORD": password, "VIDHOOK_DOMAIN": "hooks.example.com"}
    dotenv |= {
        name: f"{name.lower()}-value-0123456789" for name in re.findall(r"\$\{([A-Z_]+)", str(env))
    }
    dotenv["POSTGRES_PASSWORD"] = password
    return {key: _interpolate(str(value), dotenv) for key, value in env.items()}


@pytest.mark.parametrize("password", ["plain", "pa/ss@wo:rd?#%", "@@//"])
def test_compose_passes_any_database_password_intact(password):
    env = _replica_env(_compose()["services"]["vidhook-1"]["environment"], password)
    target = parse_target(env["VIDHOOK_DATABASE_URL"])
    assert target.dsn == "postgresql://vidhook@postgres:5432/vidhook"
    assert env["PGPASSWORD"] == password  # asyncpg reads it when the URL holds no password
    assert _compose()["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith(
        "${POSTGRES_PASSWORD"
    )


def test_kubernetes_rollouts_are_gated_by_readiness_and_drain_before_stopping():
    (deployment,) = _k8s("deployment.yaml")
    spec = deployment["spec"]
    assert spec["replicas"] >= 2
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    text = (DEPLOY / "k8s" / "configmap.yaml").read_text().split("vidhook.toml: |\n", 1)[1]
    server = parse_settings(textwrap.dedent(text), env=_any_env(text)).server
    assert ports == {"http": server.port, "internal": server.internal_port}
    sleep = container["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep[0] == "sleep"
    # The preStop sleep, then uvicorn's 15 s for in-flight work, within the grace period.
    assert pod["terminationGracePeriodSeconds"] > int(sleep[1]) + 15
    (budget,) = _k8s("poddisruptionbudget.yaml")
    assert budget["spec"]["minAvailable"] == 1
    assert budget["spec"]["selector"] == spec["selector"]


def test_kubernetes_ingress_publishes_only_hooks_media_and_healthz():
    (ingress,) = _k8s("ingress.yaml")
    (rule,) = ingress["spec"]["rules"]
    paths = {(p["path"], p["pathType"]) for p in rule["http"]["paths"]}
    assert paths == {("/hooks/", "Prefix"), ("/media/", "Prefix"), ("/healthz", "Exact")}
    retry = ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-next-upstream"]
    assert "non_idempotent" in retry.split()
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert not any("admin" in path or "metrics" in path for path, _ in paths)
    kustomized = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())
    assert {"ingress.yaml", "poddisruptionbudget.yaml"} <= set(kustomized["resources"])


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions (keyword, arguments), continuation lines joined."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(" ", 1)[0], line.split(" ", 1)[1]) for line in lines
        if line and not line.startswith("#")
    ]  # fmt: skip


def test_the_dockerfile_installs_dependencies_in_a_layer_before_the_code():
    build = []
    for keyword, args in _dockerfile_instructions():
        if keyword == "FROM" and build:
            break
        build.append((keyword, args))
    copies = [args for keyword, args in build if keyword == "COPY"]
    assert copies[0].split() == ["pyproject.toml", "constraints.txt", "./"]
    first_install = next(i for i, (k, a) in enumerate(build) if k == "RUN" and "pip install" in a)
    code_copy = next(i for i, (k, a) in enumerate(build) if k == "COPY" and "receiver" in a)
    assert first_install < code_copy
    assert "-c constraints.txt" in build[first_install][1]
    assert "'postgres'" in build[first_install][1]  # compose and Kubernetes run on PostgreSQL
    assert "--no-deps ." in build[-1][1]


def test_the_docker_build_context_holds_every_file_the_dockerfile_copies():
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    admitted = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for keyword, args in _dockerfile_instructions():
        if keyword == "COPY" and not args.startswith("--from"):
            assert set(args.split()[:-1]) <= admitted, args


def test_the_image_carries_oci_labels_with_the_package_version():
    labels = dict(
        re.findall(r'(org\.opencontainers\.image\.[a-z.]+)="([^"]*)"',
                   (DEPLOY / "Dockerfile").read_text())
    )  # fmt: skip
    assert {"title", "description", "version", "licenses", "source"} <= {
        name.removeprefix("org.opencontainers.image.") for name in labels
    }
    assert labels["org.opencontainers.image.version"] == __version__
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"
    assert _compose()["x-vidhook"]["image"] == f"vidhook:{__version__}"


def test_compose_says_it_needs_compose_v2():
    head = (DEPLOY / "compose.yaml").read_text().split("\nname:", 1)[0]
    assert "Compose v2" in head and "docker compose" in head
    assert "Compose v2" in (DEPLOY / "README.md").read_text()


def _kustomization() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())


def _kustomized() -> list[dict[str, Any]]:
    return [doc for name in _kustomization()["resources"] for doc in _k8s(name)]


def test_every_kustomized_manifest_has_the_fields_kubernetes_requires():
    kinds = {
        "ConfigMap": "v1", "Service": "v1", "Deployment": "apps/v1",
        "PodDisruptionBudget": "policy/v1", "Ingress": "networking.k8s.io/v1",
        "NetworkPolicy": "networking.k8s.io/v1", "ServiceMonitor": "monitoring.coreos.com/v1",
    }  # fmt: skip
    seen = set()
    for doc in _kustomized():
        assert kinds[doc["kind"]] == doc["apiVersion"], doc["kind"]
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", doc["metadata"]["name"])
        seen.add((doc["kind"], doc["metadata"]["name"]))
        assert "spec" in doc or "data" in doc
    assert {kind for kind, _ in seen} == set(kinds)


def test_kubectl_apply_k_never_applies_a_secret():
    assert "secret.yaml" not in _kustomization()["resources"]
    assert not any(doc["kind"] == "Secret" for doc in _kustomized())
    assert not (DEPLOY / "k8s" / "secret.yaml").exists()
    (deployment,) = _k8s("deployment.yaml")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    (source,) = container["envFrom"]
    name = source["secretRef"]["name"]
    # The documented command creates that Secret with every ${NAME} the config refers to.
    howto = (DEPLOY / "k8s" / "kustomization.yaml").read_text()
    assert f"kubectl create secret generic {name}" in howto
    given = set(re.findall(r"--from-literal=([A-Z_]+)=", howto))
    config = (DEPLOY / "k8s" / "configmap.yaml").read_text().split("vidhook.toml: |\n", 1)[1]
    assert set(_any_env(config)) <= given
    assert f"kubectl create secret generic {name}" in (DEPLOY / "README.md").read_text()


def test_pods_carry_no_service_account_token():
    (deployment,) = _k8s("deployment.yaml")
    assert deployment["spec"]["template"]["spec"]["automountServiceAccountToken"] is False


def test_the_network_policy_admits_the_ingress_to_http_and_monitoring_to_internal_only():
    (policy,) = _k8s("networkpolicy.yaml")
    (deployment,) = _k8s("deployment.yaml")
    spec = policy["spec"]
    assert spec["podSelector"] == deployment["spec"]["selector"]
    assert set(spec["policyTypes"]) == {"Ingress", "Egress"}
    admitted = {
        rule["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]: [
            port["port"] for port in rule["ports"]
        ]
        for rule in spec["ingress"]
    }
    assert admitted == {"ingress-nginx": ["http"], "monitoring": ["internal"]}
    egress = {(port["port"], port["protocol"]) for rule in spec["egress"] for port in rule["ports"]}
    assert egress == {(53, "UDP"), (53, "TCP"), (5432, "TCP"), (443, "TCP")}
    dns = next(rule for rule in spec["egress"] if "to" in rule)
    assert dns["to"][0]["podSelector"]["matchLabels"] == {"k8s-app": "kube-dns"}


def test_the_service_monitor_scrapes_metrics_on_the_internal_port_only():
    (monitor,) = _k8s("servicemonitor.yaml")
    (endpoint,) = monitor["spec"]["endpoints"]
    assert (endpoint["port"], endpoint["path"]) == ("internal", "/metrics")
    wanted = monitor["spec"]["selector"]["matchLabels"]
    selected = [
        service for service in _k8s("service.yaml")
        if wanted.items() <= {**service["metadata"].get("labels", {}),
                              "app.kubernetes.io/name": "vidhook"}.items()
    ]  # fmt: skip
    (service,) = selected  # kustomize adds app.kubernetes.io/name to every object
    assert [port["targetPort"] for port in service["spec"]["ports"]] == ["internal"]
    public = next(s for s in _k8s("service.yaml") if s["metadata"]["name"] == "vidhook")
    assert [port["targetPort"] for port in public["spec"]["ports"]] == ["http"]
