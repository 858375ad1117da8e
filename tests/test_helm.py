"""The Helm chart renders, by Helm's own engine, to valid, hardened Kubernetes objects.

Each `vault` answer gets its own project, rendered once, and one of them answers `auth: none`
(the others the default, oidc); each project's chart is rendered with several value sets.
Schemas: kubernetes-validate (strict) for Kubernetes' own kinds, shape assertions for the
custom resources, whose schemas no PyPI package ships.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import helm_python
import pytest
import yaml
from kubernetes_validate.utils import latest_version  # type: ignore[import-untyped]

from tests.charts import (
    NAMESPACE,
    Manifest,
    Rendered,
    as_deployment,
    chart_dir,
    ci_values,
    claimed_kube_versions,
    documented_params,
    kubernetes_errors,
    merged,
    render_chart,
    value_paths,
)
from tests.promql import exported_metrics, selected_metrics
from tests.rendering import render, run

SLUG = "orders-service"
PREFIX = "ORDERS_SERVICE_"
IMAGE_UID = 10001
IMAGE_PORT = 8080
# Seconds the grace period must keep beyond the preStop pause and the graceful shutdown.
SHUTDOWN_MARGIN = 5

PROJECTS: dict[str, dict[str, str]] = {
    "vault-none": {},
    "vault-agent-no-auth": {"vault": "agent", "database": "postgresql", "auth": "none"},
    "vault-api": {"vault": "api", "database": "postgresql", "cache": "redis"},
}

NO_AUTH = "vault-agent-no-auth"
ISSUER = "https://login.example.com/realms/platform"
DIGEST = "sha256:" + "0123456789abcdef" * 4
CUSTOM_KINDS = frozenset({"Rollout", "AnalysisTemplate", "ServiceMonitor", "PrometheusRule"})


class Projects:
    """Each answer set rendered once, and each chart rendering done once, on first use."""

    def __init__(self, factory: pytest.TempPathFactory) -> None:
        self.factory = factory
        self.project = cache(self._render_project)
        self.chart = cache(self._render_chart)

    def _render_project(self, project_id: str) -> Path:
        answers = {"project_name": "Orders Service", **PROJECTS[project_id]}
        return render(answers, self.factory.mktemp(project_id) / SLUG, tasks=False)

    def _render_chart(self, project_id: str, values_id: str) -> Rendered:
        return render_chart(self.chart_path(project_id), self.values(project_id, values_id))

    def chart_path(self, project_id: str) -> Path:
        return chart_dir(self.project(project_id))

    def values(self, project_id: str, values_id: str) -> dict[str, Any]:
        """A named value set for a project's chart."""
        return VALUE_SETS[values_id](self.project(project_id))

    def render(self, project_id: str, overrides: dict[str, Any]) -> Rendered:
        """The project's chart with overrides of its defaults, and what it requires (its CI's)."""
        chart = self.chart_path(project_id)
        return render_chart(chart, merged(ci_values(chart), overrides))


def authenticates(project_id: str) -> bool:
    """Whether the project answered `auth: oidc` (the default)."""
    return PROJECTS[project_id].get("auth", "oidc") == "oidc"


def application(project: Path) -> Manifest:
    """The project's Argo CD Application."""
    manifest: Manifest = yaml.safe_load(
        (project / "deploy" / "argocd-application.yaml").read_text()
    )
    return manifest


def production_values(project: Path) -> dict[str, Any]:
    """The Argo CD Application's values, plus what a release adds: a pinned image and a secret."""
    overrides = application(project)["spec"]["source"]["helm"]["valuesObject"]
    return merged(
        overrides,
        {
            "image": {"tag": "1.4.2", "digest": DIGEST},
            "existingSecret": f"{SLUG}-secrets",
            "resources": {
                "requests": {"cpu": "500m", "memory": "512Mi"},
                "limits": {"memory": "1Gi"},
            },
            "settings": {"workers": 2, "logLevel": "WARNING", "extra": {"CACHE_TTL_SECONDS": 600}},
        },
    )


def over_required(overrides: dict[str, Any]) -> Callable[[Path], dict[str, Any]]:
    """overrides of the chart's defaults, with what the chart requires (the values of its CI)."""
    return lambda project: merged(ci_values(chart_dir(project)), overrides)


VALUE_SETS: dict[str, Callable[[Path], dict[str, Any]]] = {
    "defaults": over_required({}),
    # Alone: the Application's values must carry what the chart requires.
    "production": production_values,
    "canary": over_required({"deploymentStrategy": "canary"}),
    "blue-green": over_required(
        {"deploymentStrategy": "blueGreen", "autoscaling": {"enabled": False}, "replicaCount": 3}
    ),
    "exposed": over_required(
        {
            "ingress": {
                "enabled": True,
                "className": "nginx",
                "tls": [{"secretName": f"{SLUG}-tls", "hosts": [f"{SLUG}.example.com"]}],
            },
            "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
            "prometheusRule": {"labels": {"release": "prometheus"}},
        }
    ),
    "minimal": over_required(
        {
            "autoscaling": {"enabled": False},
            "podDisruptionBudget": {"enabled": False},
            "networkPolicy": {"enabled": False},
            "serviceAccount": {"create": False},
            "helmTest": {"enabled": False},
            "replicaCount": 1,
        }
    ),
}

RENDERINGS = [(project, values) for project in PROJECTS for values in VALUE_SETS]


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> Projects:
    return Projects(tmp_path_factory)


@pytest.fixture(scope="module", params=list(PROJECTS))
def project_id(request: pytest.FixtureRequest) -> str:
    """Each `vault` answer's project in turn."""
    chosen: str = request.param
    return chosen


def lint_findings(chart: Path, values: dict[str, Any]) -> list[str]:
    """What `helm lint --strict` finds wrong with chart and values: warnings and errors."""
    report = helm_python.lint(chart, values, strict=True)
    # Severity 1 is information ("icon is recommended"); 2 and above are warnings and errors.
    warnings = [str(m["error"]) for m in report["messages"] if m["severity"] >= 2]
    return warnings + [str(error) for error in report["errors"]]


def test_lint_is_clean_in_strict_mode(projects: Projects, project_id: str) -> None:
    """With the values the project's CI lints with: what the chart requires, if anything."""
    chart = projects.chart_path(project_id)
    findings = lint_findings(chart, ci_values(chart))
    assert not findings, "helm lint --strict:\n" + "\n".join(findings)
    workflow = (projects.project(project_id) / ".github" / "workflows" / "ci.yml").read_text()
    for values in chart.glob("ci/*-values.yaml"):
        given = f'"$CHART" --values "$CHART/ci/{values.name}"'
        assert workflow.count(given) == 2, f"CI must lint and render the chart with {values.name}"


@pytest.mark.parametrize(("project_id", "values_id"), RENDERINGS)
def test_manifests_are_valid_kubernetes(
    projects: Projects, project_id: str, values_id: str
) -> None:
    rendered = projects.chart(project_id, values_id)
    versions = claimed_kube_versions(projects.chart_path(project_id))
    core = [m for m in rendered.manifests if m["kind"] not in CUSTOM_KINDS]
    core += [as_deployment(rollout) for rollout in rendered.all("Rollout")]
    errors = [
        error for m in core for version in versions for error in kubernetes_errors(m, version)
    ]
    assert not errors, "kubernetes-validate --strict:\n" + "\n".join(errors)


def test_chart_claims_current_kubernetes_versions(projects: Projects) -> None:
    versions = claimed_kube_versions(projects.chart_path("vault-none"))
    assert latest_version() in versions, f"kubeVersion leaves out the newest release: {versions}"
    assert len(versions) >= 3, f"validated against too few versions: {versions}"


def test_strict_validation_rejects_unknown_fields(projects: Projects) -> None:
    deployment = projects.chart("vault-none", "defaults").one("Deployment")
    broken = merged(deployment, {"spec": {"replica": 2}})
    assert kubernetes_errors(broken, claimed_kube_versions(projects.chart_path("vault-none"))[-1])


def test_default_objects(projects: Projects) -> None:
    assert projects.chart("vault-none", "defaults").kinds() == [
        "ConfigMap",
        "Deployment",
        "HorizontalPodAutoscaler",
        "NetworkPolicy",
        "NetworkPolicy",
        "Pod",
        "PodDisruptionBudget",
        "Service",
        "ServiceAccount",
    ]


@pytest.mark.parametrize(("project_id", "values_id"), RENDERINGS)
def test_pods_are_hardened(projects: Projects, project_id: str, values_id: str) -> None:
    for name, spec in projects.chart(project_id, values_id).pod_specs():
        assert spec["automountServiceAccountToken"] is False, name
        assert spec["enableServiceLinks"] is False, name
        assert spec["securityContext"] == {
            "runAsNonRoot": True,
            "runAsUser": IMAGE_UID,
            "runAsGroup": IMAGE_UID,
            "fsGroup": IMAGE_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        }, name
        for container in spec["containers"]:
            assert container["securityContext"] == {
                "runAsNonRoot": True,
                "runAsUser": IMAGE_UID,
                "runAsGroup": IMAGE_UID,
                "privileged": False,
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"]},
                "seccompProfile": {"type": "RuntimeDefault"},
            }, name
            assert "memory" in container["resources"]["limits"], name
            assert {"cpu", "memory"} <= container["resources"]["requests"].keys(), name


def test_tmp_is_the_only_writable_path(projects: Projects) -> None:
    spec = projects.chart("vault-none", "defaults").workload()["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]  # noqa: S108
    (volume,) = spec["volumes"]
    assert volume["name"] == "tmp"
    assert "emptyDir" in volume


def workload_container(rendered: Rendered) -> Manifest:
    """The service's container."""
    containers: list[Manifest] = rendered.workload()["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, "the service runs alone in its pod"
    return containers[0]


def test_probes_ask_the_service_routes(projects: Projects) -> None:
    project = projects.project("vault-none")
    routes = json.loads((project / "openapi.json").read_text())["paths"]
    container = workload_container(projects.chart("vault-none", "defaults"))
    probes = {
        kind: container[f"{kind}Probe"]["httpGet"] for kind in ("startup", "liveness", "readiness")
    }
    assert {kind: probe["path"] for kind, probe in probes.items()} == {
        "startup": "/livez",
        "liveness": "/livez",
        "readiness": "/readyz",
    }
    for kind, probe in probes.items():
        assert "get" in routes.get(probe["path"], {}), f"{kind} probe: no GET {probe['path']} route"
        assert probe["port"] == "http"


def dockerfile(project: Path) -> str:
    """The project's Dockerfile, which builds the image the chart runs."""
    path = project / "Dockerfile"
    assert path.is_file(), "the chart runs the project's image, but the project has no Dockerfile"
    return path.read_text()


def test_container_port_and_user_match_the_image(projects: Projects) -> None:
    project = projects.project("vault-none")
    image = dockerfile(project)
    assert re.search(rf"^EXPOSE {IMAGE_PORT}$", image, re.MULTILINE), "the image serves elsewhere"
    assert re.search(rf"^USER {IMAGE_UID}:{IMAGE_UID}$", image, re.MULTILINE), "image user moved"
    rendered = projects.chart("vault-none", "defaults")
    container = workload_container(rendered)
    assert container["ports"] == [{"name": "http", "containerPort": IMAGE_PORT, "protocol": "TCP"}]
    assert rendered.one("ConfigMap")["data"][f"{PREFIX}PORT"] == str(IMAGE_PORT)
    service = rendered.one("Service")
    assert service["spec"]["ports"][0]["targetPort"] == "http"


def settings_fields(project: Path) -> set[str]:
    """Names of the fields the service's code declares (`name: type`), upper-cased like env vars."""
    fields: set[str] = set()
    for module in (project / "src").rglob("*.py"):
        fields |= {name.upper() for name in re.findall(r"^ +([a-z_]+): ", module.read_text(), re.M)}
    return fields


def test_configmap_sets_only_settings_the_service_reads(
    projects: Projects, project_id: str
) -> None:
    data = projects.chart(project_id, "defaults").one("ConfigMap")["data"]
    known = settings_fields(projects.project(project_id))
    # VAULT_ADDR is Vault's own variable, read without the prefix.
    unknown = [
        key
        for key in data
        if key != "VAULT_ADDR" and not (key.startswith(PREFIX) and key[len(PREFIX) :] in known)
    ]
    assert not unknown, f"the service declares no setting for {unknown}"


def test_workload_reads_config_and_existing_secret(projects: Projects) -> None:
    rendered = projects.chart(NO_AUTH, "production")
    assert workload_container(rendered)["envFrom"] == [
        {"configMapRef": {"name": rendered.one("ConfigMap")["metadata"]["name"]}},
        {"secretRef": {"name": f"{SLUG}-secrets"}},
    ]
    assert not rendered.all("Secret"), "the chart must not carry secret values"


def test_image_is_pinned_by_digest_when_given(projects: Projects) -> None:
    container = workload_container(projects.chart("vault-none", "production"))
    assert container["image"] == f"registry.example.com/platform/{SLUG}:1.4.2@{DIGEST}"
    assert container["imagePullPolicy"] == "IfNotPresent"
    default = workload_container(projects.chart("vault-none", "defaults"))
    assert default["image"] == f"{SLUG}:0.1.0"
    assert default["imagePullPolicy"] == "Always", "a tag may move: pull it every time"


def pod_annotations(rendered: Rendered) -> dict[str, str]:
    """The annotations of the workload's pods."""
    annotations: dict[str, str] = rendered.workload()["spec"]["template"]["metadata"]["annotations"]
    return annotations


VAULT_TEMPLATE = (
    '{{ with secret "secret/data/orders-service" }}{{ range $key, $value := .Data.data }}'
    "ORDERS_SERVICE_{{ $key | toUpper }}={{ $value }}\n{{ end }}{{ end }}"
)


def test_vault_agent_renders_the_dotenv_file_the_service_reads(projects: Projects) -> None:
    rendered = projects.chart(NO_AUTH, "defaults")
    pod = rendered.workload()["spec"]["template"]
    annotations = pod_annotations(rendered)
    assert annotations["vault.hashicorp.com/agent-inject"] == "true"
    assert annotations["vault.hashicorp.com/role"] == SLUG
    assert annotations["vault.hashicorp.com/auth-path"] == "auth/kubernetes"
    # The secret is named app.env, so the agent writes /vault/secrets/app.env.
    assert annotations["vault.hashicorp.com/agent-inject-secret-app.env"] == (
        "secret/data/orders-service"
    )
    # Helm must leave Consul Template's own syntax intact, for the agent to execute.
    assert annotations["vault.hashicorp.com/agent-inject-template-app.env"] == VAULT_TEMPLATE
    config = rendered.one("ConfigMap")["data"]
    assert config[f"{PREFIX}VAULT_SECRETS_FILE"] == "/vault/secrets/app.env"
    token_volume = annotations["vault.hashicorp.com/agent-service-account-token-volume-name"]
    volumes = {volume["name"]: volume for volume in pod["spec"]["volumes"]}
    assert "serviceAccountToken" in volumes[token_volume]["projected"]["sources"][0]
    mounts = [mount["name"] for mount in workload_container(rendered)["volumeMounts"]]
    assert token_volume not in mounts, "only the agent needs the token, not the service"


def test_vault_api_gets_its_settings_and_a_token(projects: Projects) -> None:
    rendered = projects.chart("vault-api", "defaults")
    config = rendered.one("ConfigMap")["data"]
    assert config["VAULT_ADDR"].startswith("https://")
    assert {
        key: config[f"{PREFIX}VAULT_{key}"] for key in ("ROLE", "AUTH_MOUNT", "KV_MOUNT", "KV_PATH")
    } == {
        "ROLE": SLUG,
        "AUTH_MOUNT": "kubernetes",
        "KV_MOUNT": "secret",
        "KV_PATH": SLUG,
    }
    spec = rendered.workload()["spec"]["template"]["spec"]
    mounts = {
        mount["mountPath"]: mount["name"] for mount in workload_container(rendered)["volumeMounts"]
    }
    token = mounts["/var/run/secrets/kubernetes.io/serviceaccount"]
    (volume,) = [volume for volume in spec["volumes"] if volume["name"] == token]
    assert volume["projected"]["sources"][0]["serviceAccountToken"]["path"] == "token"
    assert not any(key.startswith("vault.hashicorp.com/") for key in pod_annotations(rendered))


def test_vault_api_can_log_in_to_the_database_with_vault_credentials(projects: Projects) -> None:
    role, mount = f"{PREFIX}VAULT_DATABASE_ROLE", f"{PREFIX}VAULT_DATABASE_MOUNT"
    assert role not in projects.chart("vault-api", "defaults").one("ConfigMap")["data"]

    config = projects.render("vault-api", {"vault": {"databaseRole": SLUG}}).one("ConfigMap")[
        "data"
    ]

    assert (config[role], config[mount]) == (SLUG, "database")
    with pytest.raises(helm_python.HelmValuesError, match="/vault/databaseRole"):
        projects.render("vault-api", {"vault": {"databaseRole": "orders service"}})


def test_no_vault_means_no_vault_and_no_token(projects: Projects) -> None:
    rendered = projects.chart("vault-none", "defaults")
    text = yaml.safe_dump_all(rendered.manifests)
    assert "vault" not in text.lower()
    assert "serviceAccountToken" not in text
    assert rendered.one("ServiceAccount")["automountServiceAccountToken"] is False


OIDC_VALUES = {
    "issuer": ISSUER,
    "audience": "api://orders",
    "jwksUrl": f"{ISSUER}/protocol/openid-connect/certs",
    "algorithms": ["PS256", "EdDSA"],
    "leewaySeconds": 10,
    "requiredScopes": ["orders:read", "orders.write"],
    "docsClientId": "orders-docs",
}


def oidc_settings(rendered: Rendered) -> dict[str, str]:
    """The ConfigMap's OIDC_* settings, by name without the prefix."""
    data: dict[str, str] = rendered.one("ConfigMap")["data"]
    return {key[len(PREFIX) :]: value for key, value in data.items() if "_OIDC_" in key}


def test_oidc_values_reach_the_configmap(projects: Projects) -> None:
    settings = oidc_settings(projects.render("vault-none", {"auth": {"oidc": OIDC_VALUES}}))
    assert settings == {
        "OIDC_ISSUER": ISSUER,
        "OIDC_AUDIENCE": "api://orders",
        "OIDC_JWKS_URL": f"{ISSUER}/protocol/openid-connect/certs",
        "OIDC_ALGORITHMS": '["PS256","EdDSA"]',
        "OIDC_LEEWAY_SECONDS": "10",
        "OIDC_REQUIRED_SCOPES": '["orders:read","orders.write"]',
        "OIDC_DOCS_CLIENT_ID": "orders-docs",
    }
    unread = set(settings) - settings_fields(projects.project("vault-none"))
    assert not unread, f"the service declares no setting for {unread}"


def settings_defaults(project: Path) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The defaults of the OIDC settings in the service's config.py, by field name, and the
    algorithms its SigningAlgorithm type admits."""
    (config,) = project.glob("src/*/config.py")
    module = ast.parse(config.read_text())
    (settings,) = [n for n in module.body if isinstance(n, ast.ClassDef) and n.name == "Settings"]
    defaults = {
        node.target.id: ast.literal_eval(node.value)
        for node in settings.body
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
        if node.target.id.startswith("oidc_") and node.value is not None
    }
    (algorithm,) = [
        node.value
        for node in module.body
        if isinstance(node, ast.Assign)
        and [ast.unparse(target) for target in node.targets] == ["SigningAlgorithm"]
    ]
    assert isinstance(algorithm, ast.Subscript), ast.unparse(algorithm)
    return defaults, ast.literal_eval(algorithm.slice)


def test_oidc_defaults_and_algorithms_are_the_services(projects: Projects) -> None:
    chart = projects.chart_path("vault-none")
    defaults, algorithms = settings_defaults(projects.project("vault-none"))
    oidc = yaml.safe_load((chart / "values.yaml").read_text())["auth"]["oidc"]
    assert tuple(oidc["algorithms"]) == defaults["oidc_algorithms"]
    assert oidc["leewaySeconds"] == defaults["oidc_leeway_seconds"]
    assert tuple(oidc["requiredScopes"]) == defaults["oidc_required_scopes"]
    schema = json.loads((chart / "values.schema.json").read_text())
    accepted = schema["properties"]["auth"]["properties"]["oidc"]["properties"]["algorithms"]
    assert tuple(accepted["items"]["enum"]) == algorithms
    settings = oidc_settings(projects.chart("vault-none", "defaults"))
    assert "OIDC_JWKS_URL" not in settings, "empty jwksUrl: the service reads discovery's jwks_uri"
    assert "OIDC_DOCS_CLIENT_ID" not in settings, "empty docsClientId: the docs take a pasted token"
    assert json.loads(settings["OIDC_ALGORITHMS"]) == list(defaults["oidc_algorithms"])


@pytest.mark.parametrize(
    "missing", [("issuer",), ("audience",), ("issuer", "audience")], ids="-and-".join
)
def test_provider_is_required_by_name(projects: Projects, missing: tuple[str, ...]) -> None:
    """Left out, they fall back to the chart's empty defaults: template and lint both refuse."""
    chart = projects.chart_path("vault-none")
    values = ci_values(chart)
    for name in missing:
        del values["auth"]["oidc"][name]
    named = [f"at '/auth/oidc/{name}': minLength: got 0, want 1" for name in missing]
    with pytest.raises(helm_python.HelmValuesError) as refused:
        render_chart(chart, values)
    assert all(message in str(refused.value) for message in named), refused.value
    findings = "\n".join(lint_findings(chart, values))
    assert all(message in findings for message in named), findings


@pytest.mark.parametrize(
    ("oidc", "named"),
    [
        ({"issuer": "http://login.example.com/realms/platform"}, "at '/auth/oidc/issuer'"),
        ({"issuer": f"{ISSUER}?tenant=a"}, "at '/auth/oidc/issuer'"),
        ({"jwksUrl": "http://login.example.com/certs"}, "at '/auth/oidc/jwksUrl'"),
        ({"algorithms": ["HS256"]}, "at '/auth/oidc/algorithms/0'"),
        ({"algorithms": ["RS256", "none"]}, "at '/auth/oidc/algorithms/1'"),
        ({"algorithms": []}, "at '/auth/oidc/algorithms'"),
        ({"leewaySeconds": 301}, "at '/auth/oidc/leewaySeconds'"),
        ({"leewaySeconds": -1}, "at '/auth/oidc/leewaySeconds'"),
        ({"requiredScopes": ["orders read"]}, "at '/auth/oidc/requiredScopes/0'"),
        ({"clientSecret": "s3cr3t"}, "additional properties 'clientSecret' not allowed"),
    ],
    ids=[
        "http-issuer",
        "issuer-with-query",
        "http-jwks",
        "hs256",
        "none",
        "no-algorithm",
        "leeway-above-300",
        "negative-leeway",
        "scope-with-space",
        "unknown-key",
    ],
)
def test_bad_oidc_values_are_refused_by_the_schema(
    projects: Projects, oidc: dict[str, Any], named: str
) -> None:
    with pytest.raises(helm_python.HelmValuesError) as refused:
        projects.render("vault-none", {"auth": {"oidc": oidc}})
    assert named in str(refused.value)


def test_network_policy_lets_the_service_reach_its_provider(projects: Projects) -> None:
    policy = projects.chart("vault-none", "defaults").one("NetworkPolicy", SLUG)
    dns, *dependencies = policy["spec"]["egress"]
    assert dns["ports"] == [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
    assert dependencies == [{"ports": [{"port": 443, "protocol": "TCP"}]}]
    provider = {
        "ports": [{"port": 443, "protocol": "TCP"}],
        "to": [{"ipBlock": {"cidr": "203.0.113.0/24"}}],
    }
    narrowed = projects.render("vault-none", {"networkPolicy": {"egress": [provider]}})
    assert narrowed.one("NetworkPolicy", SLUG)["spec"]["egress"] == [dns, provider]


def test_no_auth_means_no_oidc_anywhere(projects: Projects) -> None:
    chart = projects.chart_path(NO_AUTH)
    files = [path for path in chart.rglob("*") if path.is_file()]
    files.append(projects.project(NO_AUTH) / "deploy" / "argocd-application.yaml")
    mentions = [str(path) for path in files if "oidc" in path.read_text().lower()]
    assert not mentions, f"auth: none, yet OIDC in {mentions}"
    assert "auth" not in yaml.safe_load((chart / "values.yaml").read_text())
    assert "auth" not in json.loads((chart / "values.schema.json").read_text())["properties"]
    for values_id in VALUE_SETS:
        rendered = projects.chart(NO_AUTH, values_id)
        assert "oidc" not in (yaml.safe_dump_all(rendered.manifests) + rendered.notes).lower()
    with pytest.raises(helm_python.HelmValuesError, match="'auth' not allowed"):
        projects.render(NO_AUTH, {"auth": {"oidc": {"issuer": ISSUER, "audience": SLUG}}})


@pytest.mark.parametrize(
    ("project_id", "vault_port"),
    [("vault-none", False), (NO_AUTH, True), ("vault-api", True)],
)
def test_network_policy_admits_only_what_needs_it(
    projects: Projects, project_id: str, vault_port: bool
) -> None:
    rendered = projects.chart(project_id, "defaults")
    policy = rendered.one("NetworkPolicy", "orders-service")
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    (rule,) = policy["spec"]["ingress"]
    assert rule["from"] == [{"podSelector": {"matchLabels": {"orders-service-client": "true"}}}]
    test_pod = rendered.one("Pod")
    assert test_pod["metadata"]["labels"]["orders-service-client"] == "true"
    egress_ports = {port["port"] for egress in policy["spec"]["egress"] for port in egress["ports"]}
    expected = {53} | ({8200} if vault_port else set())
    expected |= {5432} if PROJECTS[project_id].get("database") == "postgresql" else set()
    expected |= {6379} if PROJECTS[project_id].get("cache") == "redis" else set()
    expected |= {443} if authenticates(project_id) else set()
    assert egress_ports == expected
    exposed = projects.chart(project_id, "exposed").one("NetworkPolicy", "orders-service")
    peers = exposed["spec"]["ingress"][0]["from"]
    names = [peer.get("namespaceSelector", {}).get("matchLabels", {}) for peer in peers]
    assert {"kubernetes.io/metadata.name": "ingress-nginx"} in names
    assert {"kubernetes.io/metadata.name": "monitoring"} in names


def test_helm_test_asks_readyz_through_the_service(projects: Projects) -> None:
    rendered = projects.chart("vault-none", "defaults")
    pod = rendered.one("Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    (container,) = pod["spec"]["containers"]
    service = rendered.one("Service")
    url = f"http://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}/readyz"
    assert container["command"][-1] == url
    assert container["image"] == workload_container(rendered)["image"]
    selected = set(rendered.one("Service")["spec"]["selector"].items())
    assert not selected <= set(pod["metadata"]["labels"].items()), "the Service would route to it"


@pytest.mark.parametrize("values_id", ["defaults", "production"])
def test_disruption_budget_leaves_room_to_drain(projects: Projects, values_id: str) -> None:
    rendered = projects.chart("vault-none", values_id)
    hpa = rendered.one("HorizontalPodAutoscaler")["spec"]
    assert hpa["minReplicas"] >= 2, "one replica cannot survive a node drain"
    assert rendered.one("PodDisruptionBudget")["spec"]["minAvailable"] < hpa["minReplicas"]


@pytest.mark.parametrize("values_id", ["defaults", "production"])
def test_shutdown_fits_the_grace_period(projects: Projects, values_id: str) -> None:
    rendered = projects.chart("vault-none", values_id)
    spec = rendered.workload()["spec"]["template"]["spec"]
    pause = workload_container(rendered)["lifecycle"]["preStop"]["sleep"]["seconds"]
    graceful = int(rendered.one("ConfigMap")["data"][f"{PREFIX}GRACEFUL_SHUTDOWN_SECONDS"])
    assert spec["terminationGracePeriodSeconds"] >= pause + graceful + SHUTDOWN_MARGIN


def test_rolling_update_keeps_capacity_and_spreads(projects: Projects) -> None:
    deployment = projects.chart("vault-none", "defaults").one("Deployment")
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    spread = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert [c["topologyKey"] for c in spread] == [
        "kubernetes.io/hostname",
        "topology.kubernetes.io/zone",
    ]


@pytest.mark.parametrize(
    ("values_id", "strategy", "extra_service"),
    [
        ("canary", "canary", "orders-service-canary"),
        ("blue-green", "blueGreen", "orders-service-preview"),
    ],
)
def test_progressive_delivery_uses_argo_rollouts(
    projects: Projects, values_id: str, strategy: str, extra_service: str
) -> None:
    rendered = projects.chart("vault-none", values_id)
    assert not rendered.all("Deployment")
    rollout = rendered.one("Rollout")
    assert rollout["apiVersion"] == "argoproj.io/v1alpha1"
    service = rendered.one("Service", "orders-service")
    assert rollout["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]
    (steps,) = rollout["spec"]["strategy"].values()
    assert list(rollout["spec"]["strategy"]) == [strategy]
    services = {service["metadata"]["name"] for service in rendered.all("Service")}
    assert services == {"orders-service", extra_service}
    analysis = rendered.one("AnalysisTemplate")
    if strategy == "canary":
        assert steps["stableService"] == "orders-service"
        assert steps["canaryService"] == extra_service
        assert steps["maxUnavailable"] == 0
        assert steps["steps"][0] == {"setWeight": 20}
        used = steps["analysis"]["templates"]
    else:
        assert steps["activeService"] == "orders-service"
        assert steps["previewService"] == extra_service
        used = steps["prePromotionAnalysis"]["templates"]
        assert rollout["spec"]["replicas"] == 3
    assert used == [{"templateName": analysis["metadata"]["name"]}]
    (metric,) = analysis["spec"]["metrics"]
    web = metric["provider"]["web"]
    assert web["url"] == f"http://{extra_service}.{NAMESPACE}.svc:80/readyz"
    assert metric["successCondition"] == 'result == "ok"'
    assert web["jsonPath"] == "{$.status}"


@pytest.mark.parametrize("values_id", ["defaults", "canary", "blue-green"])
def test_autoscaler_targets_the_workload(projects: Projects, values_id: str) -> None:
    rendered = projects.chart("vault-none", values_id)
    workload = rendered.workload()
    if values_id == "blue-green":
        assert not rendered.all("HorizontalPodAutoscaler")
        return
    target = rendered.one("HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]
    assert target == {
        "apiVersion": workload["apiVersion"],
        "kind": workload["kind"],
        "name": workload["metadata"]["name"],
    }
    assert "replicas" not in workload["spec"], "the autoscaler owns the replica count"


def test_ingress_and_service_monitor(projects: Projects) -> None:
    rendered = projects.chart("vault-none", "exposed")
    ingress = rendered.one("Ingress")["spec"]
    assert ingress["ingressClassName"] == "nginx"
    backend = ingress["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "orders-service", "port": {"name": "http"}}
    monitor = rendered.one("ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= (
        rendered.one("Service")["metadata"]["labels"].items()
    )
    assert monitor["spec"]["endpoints"] == [
        {"port": "http", "path": "/metrics", "interval": "30s", "scrapeTimeout": "10s"}
    ]
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}


def test_prometheus_rule_alerts_on_the_service_slos(projects: Projects) -> None:
    rendered = projects.chart("vault-none", "exposed")
    rule = rendered.one("PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["labels"]["release"] == "prometheus"
    assert rule["metadata"]["namespace"] == NAMESPACE
    (group,) = rule["spec"]["groups"]
    alerts = {alert["alert"]: alert for alert in group["rules"]}
    assert set(alerts) == {"ErrorBudgetBurnFast", "ErrorBudgetBurnSlow", "LatencyP99High"}
    project = projects.project("vault-none")
    exported = exported_metrics(project)
    (metrics_module,) = project.glob("src/*/observability/metrics.py")
    assert '@router.get("/metrics")' in metrics_module.read_text(), "the scrape path"
    assert rendered.one("ServiceMonitor")["spec"]["endpoints"][0]["path"] == "/metrics"
    job = rendered.one("Service")["metadata"]["name"]
    for name, alert in alerts.items():
        assert selected_metrics(alert["expr"]) <= exported, f"{name} reads metrics never exported"
        assert f'job="{job}"' in alert["expr"], f"{name} must select the service's own series"
        assert 'route!~"/livez|/readyz|/metrics"' in alert["expr"], f"{name} counts probes"
        assert re.fullmatch(r"[0-9]+[smh]", alert["for"]), name
        assert alert["labels"]["severity"] in {"critical", "warning"}, name
        assert {"summary", "description"} <= alert["annotations"].keys(), name
        # Prometheus' own template syntax reaches Prometheus intact.
        assert "{{ $value" in alert["annotations"]["description"], name
    assert "14.4 * (1 - 0.999)" in alerts["ErrorBudgetBurnFast"]["expr"]
    assert "http_server_request_duration_seconds_bucket" in alerts["LatencyP99High"]["expr"]
    assert alerts["LatencyP99High"]["expr"].rstrip().endswith("> 0.5")


@pytest.mark.parametrize(
    "values",
    [
        {"prometheusRule": {"labels": {"release": "prometheus"}}},
        {"serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": False}},
    ],
    ids=["without-service-monitor", "turned-off"],
)
def test_prometheus_rule_needs_the_service_monitor(
    projects: Projects, values: dict[str, Any]
) -> None:
    rendered = projects.render("vault-none", values)
    assert not rendered.all("PrometheusRule")


def test_prometheus_rule_follows_its_values(projects: Projects) -> None:
    values = {
        "serviceMonitor": {"enabled": True},
        "prometheusRule": {
            "availabilityObjective": 0.995,
            "latencyP99Seconds": 0.25,
            "latencyFor": "5m",
            "excludedRoutes": "/livez|/readyz|/metrics|/internal/.*",
        },
    }
    rule = projects.render("vault-none", values).one("PrometheusRule")
    alerts = {alert["alert"]: alert for alert in rule["spec"]["groups"][0]["rules"]}
    assert "6 * (1 - 0.995)" in alerts["ErrorBudgetBurnSlow"]["expr"]
    assert alerts["LatencyP99High"]["expr"].rstrip().endswith("> 0.25")
    assert alerts["LatencyP99High"]["for"] == "5m"
    assert 'route!~"/livez|/readyz|/metrics|/internal/.*"' in alerts["ErrorBudgetBurnFast"]["expr"]
    for alert in alerts.values():
        selected_metrics(alert["expr"])  # still PromQL


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"replicaCount": "three"}, "/replicaCount"),
        ({"replicas": 3}, "'replicas'"),
        ({"resources": {"limits": {"memory": "-512Mi"}}}, "/resources/limits/memory"),
        ({"resources": {"limits": {"memory": -1}}}, "/resources/limits/memory"),
        ({"deploymentStrategy": "yolo"}, "/deploymentStrategy"),
        ({"envPrefix": "OTHER_"}, "/envPrefix"),
        ({"podDisruptionBudget": {"minAvailable": 2}}, "podDisruptionBudget.minAvailable (2)"),
        ({"terminationGracePeriodSeconds": 20}, "terminationGracePeriodSeconds (20)"),
        ({"autoscaling": {"minReplicas": 8}}, "autoscaling.minReplicas (8)"),
        ({"settings": {"extra": {"DATABASE_PASSWORD": "x"}}}, "settings.extra.DATABASE_PASSWORD"),
        ({"settings": {"extra": {"PORT": "9000"}}}, "settings.extra.PORT"),
        ({"settings": {"extra": {"OIDC_ISSUER": ISSUER}}}, "use auth.oidc.issuer instead"),
        (
            {"settings": {"extra": {"OIDC_DOCS_CLIENT_ID": "docs"}}},
            "use auth.oidc.docsClientId instead",
        ),
        ({"auth": {"oidc": {"docsClientId": "docs client\n"}}}, "/auth/oidc/docsClientId"),
        ({"prometheusRule": {"availabilityObjective": 1}}, "/prometheusRule/availabilityObjective"),
        ({"prometheusRule": {"latencyFor": "soon"}}, "/prometheusRule/latencyFor"),
    ],
)
def test_bad_values_are_refused_by_name(
    projects: Projects, override: dict[str, Any], named: str
) -> None:
    with pytest.raises(helm_python.HelmError) as refused:
        projects.render("vault-none", override)
    assert named in str(refused.value)


def test_vault_values_exist_only_with_vault(projects: Projects) -> None:
    with pytest.raises(helm_python.HelmValuesError, match="'vault' not allowed"):
        projects.render("vault-none", {"vault": {"mode": "agent"}})
    with pytest.raises(helm_python.HelmValuesError, match="/vault/mode"):
        projects.render(NO_AUTH, {"vault": {"mode": "api"}})


def test_every_value_is_documented(projects: Projects, project_id: str) -> None:
    text = (projects.chart_path(project_id) / "values.yaml").read_text()
    assert text.startswith("# yaml-language-server: $schema=values.schema.json\n")
    documented = documented_params(text)
    paths = set(value_paths(yaml.safe_load(text)))
    undocumented = [
        path
        for path in sorted(paths)
        if not any(path == doc or path.startswith(f"{doc}.") for doc in documented)
    ]
    assert not undocumented, f"values without a `## @param` line: {undocumented}"
    stale = [
        doc for doc in documented if not any(p == doc or p.startswith(f"{doc}.") for p in paths)
    ]
    assert not stale, f"`## @param` lines for values that do not exist: {stale}"


def test_schema_is_closed_on_our_own_shapes(projects: Projects, project_id: str) -> None:
    schema = json.loads((projects.chart_path(project_id) / "values.schema.json").read_text())
    assert schema["additionalProperties"] is False
    values: dict[str, Any] = yaml.safe_load(
        (projects.chart_path(project_id) / "values.yaml").read_text()
    )
    assert set(values) <= set(schema["properties"])
    for key in (
        "image",
        "settings",
        "service",
        "autoscaling",
        "podDisruptionBudget",
        "networkPolicy",
    ):
        assert schema["properties"][key]["additionalProperties"] is False, key
    if authenticates(project_id):
        auth = schema["properties"]["auth"]
        assert auth["additionalProperties"] is False
        assert auth["properties"]["oidc"]["additionalProperties"] is False


def test_chart_follows_the_project(projects: Projects, project_id: str) -> None:
    project = projects.project(project_id)
    chart = yaml.safe_load((projects.chart_path(project_id) / "Chart.yaml").read_text())
    version = re.search(
        r'^version = "(.+)"$', (project / "pyproject.toml").read_text(), re.MULTILINE
    )
    assert version is not None
    assert chart["name"] == SLUG
    assert chart["appVersion"] == version.group(1)


def test_argocd_application_deploys_the_chart(projects: Projects, project_id: str) -> None:
    project = projects.project(project_id)
    app = application(project)
    assert (app["apiVersion"], app["kind"]) == ("argoproj.io/v1alpha1", "Application")
    source = app["spec"]["source"]
    assert (project / source["path"] / "Chart.yaml").is_file()
    assert source["helm"]["releaseName"] == SLUG
    assert app["spec"]["destination"] == {
        "server": "https://kubernetes.default.svc",
        "namespace": SLUG,
    }
    sync = app["spec"]["syncPolicy"]
    assert sync["automated"] == {"prune": True, "selfHeal": True}
    labels = sync["managedNamespaceMetadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    # Its values pass the chart's schema and checks: the production rendering uses them.
    assert projects.chart(project_id, "production").one("HorizontalPodAutoscaler")


def test_notes_say_how_to_check_and_reach_it(projects: Projects) -> None:
    notes = projects.chart("vault-none", "defaults").notes
    assert f"helm test orders-service -n {NAMESPACE}" in notes
    assert "port-forward service/orders-service 8080:80" in notes
    assert "https://orders-service.example.com/" in projects.chart("vault-none", "exposed").notes
    assert f"issued by\n{ISSUER} for the audience {SLUG}." in notes
    assert "access token" not in projects.chart(NO_AUTH, "defaults").notes


# The Prometheus Operator's kinds: checkov has no policy for them and does not count them.
MONITORING_KINDS = frozenset({"ServiceMonitor", "PrometheusRule"})
CHECKOV_SKIPS = frozenset({"CKV_K8S_8", "CKV_K8S_9", "CKV_K8S_11", "CKV_K8S_35", "CKV_K8S_43"})


def test_checkov_finds_no_failures(projects: Projects, tmp_path: Path) -> None:
    """Every rendering through checkov's Kubernetes policies, in one run (it starts slowly)."""
    checkov = Path(sys.executable).parent / "checkov"
    assert checkov.is_file(), f"checkov is not installed beside {sys.executable}"
    manifests = tmp_path / "manifests"
    count = 0
    for project_id, values_id in RENDERINGS:
        rendered = projects.chart(project_id, values_id)
        folder = manifests / project_id / values_id
        folder.mkdir(parents=True)
        for number, manifest in enumerate(rendered.manifests):
            if manifest["kind"] in MONITORING_KINDS:
                continue
            (folder / f"{number:02}-{manifest['kind']}.yaml").write_text(yaml.safe_dump(manifest))
            count += 1
    command = [str(checkov), "--framework", "kubernetes", "--directory", str(manifests)]
    command += ["--output", "json", "--output-file-path", str(tmp_path), "--soft-fail"]
    run([*command, "--skip-download"], tmp_path, env={"BC_SKIP_MAPPING": "TRUE"})
    report = json.loads((tmp_path / "results_json.json").read_text())
    results, summary = report["results"], report["summary"]
    assert summary["parsing_errors"] == 0, f"checkov could not parse some of {manifests}"
    # It counts a few derived resources too (pods of workloads, for its graph checks).
    assert (
        summary["resource_count"] >= count
    ), f"checkov read {summary['resource_count']} of {count}"
    assert summary["passed"] > 0
    failed = [
        f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in results["failed_checks"]
    ]
    assert not failed, "checkov:\n" + "\n".join(failed)
    for skipped in results["skipped_checks"]:
        reason = skipped["check_result"].get("suppress_comment", "")
        assert skipped["check_id"] in CHECKOV_SKIPS, f"unexpected skip of {skipped['check_id']}"
        assert len(reason) > 20, f"{skipped['check_id']} skipped without a reason"
