"""The image, the compose stack and the Kubernetes manifests, checked offline.

No container engine runs on the development machines or in CI (`docker` is at most a
client), so nothing here builds the image or starts the stack: hadolint checks the
Dockerfile, the compose file is validated against the Compose specification (the schema
vendored in check-jsonschema), and the Kubernetes overlays are rendered (tests/kustomize_lite)
and validated against Kubernetes' own schemas (kubernetes-validate). Each check is shown
to fail on a broken input too.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.kustomize_lite import render
from worker.settings import Settings, account_env_name, env_name
from workflows.account_contracts import AccountSettings

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
KUBE = DEPLOY / "kubernetes"
OVERLAYS = sorted(p for p in (KUBE / "overlays").iterdir() if p.is_dir())
BIN = Path(sys.executable).parent
K8S_VERSION = "1.31.0"

SETTINGS_VARS = {env_name(f) for f in Settings.model_fields} | {
    account_env_name(f) for f in AccountSettings.model_fields
}
TEMPORAL_VARS = {
    "TEMPORAL_ADDRESS",
    "TEMPORAL_NAMESPACE",
    "TEMPORAL_API_KEY",
    "TEMPORAL_TLS",
    "TEMPORAL_TLS_CLIENT_CERT_PATH",
    "TEMPORAL_TLS_CLIENT_KEY_PATH",
    "TEMPORAL_TLS_SERVER_CA_CERT_PATH",
    "TEMPORAL_TLS_SERVER_NAME",
}
# Read by other code than the settings model: boto3, and features landing in parallel
# (the account store, payload encryption), folded into the model when they land. Not
# AWS_REGION: other AWS SDKs read it, boto3 does not (its region is AWS_DEFAULT_REGION).
OTHER_VARS = {
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
    "DATABASE_URL",
    "TIKTOK_PAYLOAD_KEYS",
}
KNOWN_VARS = SETTINGS_VARS | TEMPORAL_VARS | OTHER_VARS


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)


# -- the image -------------------------------------------------------------------------------


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    return run(str(BIN / "hadolint"), "--failure-threshold", "warning", str(path))


def test_the_dockerfile_passes_hadolint() -> None:
    result = hadolint(ROOT / "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_catches_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\nRUN cd /src && pip install x\n")
    assert hadolint(bad).returncode != 0


def test_the_image_runs_unprivileged_without_dev_extras_and_ships_every_package() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^USER 10001", text, re.M), "the runtime stage must not run as root"
    assert 'ENTRYPOINT ["tiktok-publisher"]' in text and 'CMD ["worker"]' in text
    assert "[dev]" not in text and "[local]" not in text
    assert text.count("FROM ") >= 2, "multi-stage: build tools stay out of the runtime image"
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    for package in (p.rstrip("*") for p in packages):
        assert f"COPY {package} ./{package}" in text, f"the image misses package {package}"


# -- compose ---------------------------------------------------------------------------------


def compose_check(path: Path) -> subprocess.CompletedProcess[str]:
    return run(str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path))


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return data


def test_compose_file_follows_the_compose_specification() -> None:
    result = compose_check(DEPLOY / "compose.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_compose_check_catches_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "compose.yaml"
    bad.write_text("services:\n  worker:\n    image: x\n    restart: sometimes\n    prots: []\n")
    assert compose_check(bad).returncode != 0


def test_compose_has_the_whole_stack_wired_together() -> None:
    services = compose()["services"]
    expected = {"temporal", "temporal-db", "temporal-ui", "accounts-db", "minio", "minio-setup"}
    assert expected | {"worker", "api", "prometheus", "grafana"} <= set(services)
    assert services["temporal"]["environment"]["POSTGRES_SEEDS"] == "temporal-db"
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"
    assert services["worker"]["command"] == ["worker"]
    assert services["api"]["command"][0] == "api"
    grace = int(services["worker"]["stop_grace_period"].rstrip("s"))
    assert grace > Settings().graceful_shutdown_seconds
    for name, service in services.items():
        if service.get("image", "").startswith("${TIKTOK_PUBLISHER_IMAGE"):
            unknown = set(service.get("environment", {})) - KNOWN_VARS
            assert not unknown, f"{name} sets variables nothing reads: {unknown}"


def test_compose_mounts_files_that_exist() -> None:
    for name, service in compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"
    prometheus = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    targets = {
        t
        for job in prometheus["scrape_configs"]
        for c in job["static_configs"]
        for t in c["targets"]
    }
    assert "worker:9464" in targets


def test_compose_engine_services_share_the_account_store_and_write_no_volume() -> None:
    """One token store for the worker and the API (an account connected through the API is
    the worker's at once), seeded without overwriting refreshed tokens; and no named volume
    on an engine service: Docker creates one root-owned where the image has no directory,
    and the image runs as uid 10001."""
    services = compose()["services"]
    engine = {
        name: service
        for name, service in services.items()
        if service.get("image", "").startswith("${TIKTOK_PUBLISHER_IMAGE")
    }
    assert {"worker", "api", "setup"} <= set(engine)
    for name, service in engine.items():
        env = {**compose()["x-engine"]["environment"], **service.get("environment", {})}
        assert "TIKTOK_TOKEN_FILE" not in env, f"{name} would read tokens from a file"
        named = [v for v in service.get("volumes", []) if not v.startswith(".")]
        assert not named, f"{name} mounts named volumes {named}"
    seed = " ".join(services["setup"]["command"])
    assert "account import --keep-existing /config/tokens.json" in seed
    assert "accounts-db" in services["setup"]["depends_on"]


def test_the_bucket_lifecycle_expires_staged_media_and_stale_uploads() -> None:
    import json

    from worker.custody import CustodySettings

    rules = json.loads((DEPLOY / "media-lifecycle.json").read_text())["Rules"]
    by_id = {r["ID"]: r for r in rules}
    assert by_id["expire-staged-media"]["Filter"]["Prefix"] == Settings().media_prefix
    # Media is staged at submit: the README tells operators the rule's days bound how far
    # ahead posts can be scheduled, with the number the file holds.
    days = by_id["expire-staged-media"]["Expiration"]["Days"]
    readme = " ".join((DEPLOY.parent / "README.md").read_text().split())
    assert f"expire after {days} days" in readme and "how far ahead you schedule" in readme
    assert by_id["abort-incomplete-uploads"]["AbortIncompleteMultipartUpload"]
    sessions = CustodySettings.from_settings(Settings()).upload_sessions_prefix
    assert by_id["expire-upload-sessions"]["Filter"]["Prefix"] == sessions


def test_compose_takes_the_token_key_from_the_operator_not_a_default() -> None:
    """The account store refuses PostgreSQL without TIKTOK_TOKEN_KEYS (the API exits at start),
    and a default in a public file would be everyone's key."""
    env = compose()["x-engine"]["environment"]
    assert env["DATABASE_URL"].startswith("postgresql://")
    assert env["TIKTOK_TOKEN_KEYS"].startswith("${TIKTOK_TOKEN_KEYS:?")


def test_the_compose_demo_post_is_a_valid_request_for_the_demo_account() -> None:
    import json

    from workflows.intake import parse_post

    post = parse_post(json.loads((DEPLOY / "compose" / "post.json").read_text()))
    tokens = json.loads((DEPLOY / "compose" / "tokens.json").read_text())["accounts"]
    assert {t.account_id for t in post.targets} <= set(tokens)


def test_the_grafana_dashboard_charts_the_engine_series() -> None:
    import json

    dashboard = json.loads(
        (DEPLOY / "grafana" / "dashboards" / "tiktok-publisher.json").read_text()
    )
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    from telemetry.metrics import REGISTRY

    names = {m.name for m in REGISTRY.collect()}
    for name in names - {"tiktok_publisher_build_info"}:
        assert name in exprs, f"the dashboard has no panel for {name}"


# -- Kubernetes ------------------------------------------------------------------------------


def by_kind(resources: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}


@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda p: p.name)
def test_each_overlay_renders_to_valid_kubernetes_resources(overlay: Path) -> None:
    resources = render(overlay)
    for resource in resources:
        if resource["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # a CRD (Prometheus Operator): no schema in kubernetes-validate
        kubernetes_validate.validate(resource, K8S_VERSION, strict=True)
    kinds = {r["kind"] for r in resources}
    assert {
        "Deployment",
        "Service",
        "Ingress",
        "ConfigMap",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "ServiceMonitor",
    } <= kinds


def test_the_validation_catches_a_broken_resource() -> None:
    [worker] = [
        r
        for r in render(OVERLAYS[0])
        if r["metadata"]["name"] == "tiktok-publisher-worker" and r["kind"] == "Deployment"
    ]
    worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = "two minutes"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(worker, K8S_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda p: p.name)
def test_workers_drain_before_kubernetes_kills_them(overlay: Path) -> None:
    resources = render(overlay)
    config = by_kind(resources, "ConfigMap")["tiktok-publisher-config"]["data"]
    worker = by_kind(resources, "Deployment")["tiktok-publisher-worker"]
    grace = worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > float(config["WORKER_GRACEFUL_SHUTDOWN_SECONDS"])
    labels = worker["spec"]["selector"]["matchLabels"]
    pdb = by_kind(resources, "PodDisruptionBudget")["tiktok-publisher-worker"]
    assert pdb["spec"]["selector"]["matchLabels"] == labels
    hpa = by_kind(resources, "HorizontalPodAutoscaler")["tiktok-publisher-worker"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "tiktok-publisher-worker"
    assert set(config) <= KNOWN_VARS, set(config) - KNOWN_VARS
    monitor = by_kind(resources, "ServiceMonitor")["tiktok-publisher"]
    ports = {p["name"] for s in by_kind(resources, "Service").values() for p in s["spec"]["ports"]}
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= ports


def test_a_release_moves_the_workers_image_apart_from_the_apis() -> None:
    """Workers before starters (deploy/README.md): each Deployment has its own `images`
    entry, both at the package's version, and the HPA alone sets the workers' count."""
    from importlib.metadata import version

    spec = yaml.safe_load((KUBE / "base" / "kustomization.yaml").read_text())
    release = version("tiktok-publisher")
    assert {i["name"]: i["newTag"] for i in spec["images"]} == {
        "tiktok-publisher-worker": release,
        "tiktok-publisher-api": release,
    }
    for overlay in OVERLAYS:
        deployments = by_kind(render(overlay), "Deployment")
        images = {
            name: d["spec"]["template"]["spec"]["containers"][0]["image"]
            for name, d in deployments.items()
        }
        image = f"ghcr.io/your-org/tiktok-publisher:{release}"
        assert images == {"tiktok-publisher-worker": image, "tiktok-publisher-api": image}
        assert "replicas" not in deployments["tiktok-publisher-worker"]["spec"]


def _exposed(path: str, ingress: dict[str, Any]) -> bool:
    for rule in ingress["spec"]["rules"][0]["http"]["paths"]:
        prefix = rule["path"].rstrip("/")
        if rule["pathType"] == "Exact" and path == rule["path"]:
            return True
        if rule["pathType"] == "Prefix" and (path == prefix or path.startswith(prefix + "/")):
            return True
    return False


def test_the_ingress_serves_the_apis_routes_but_not_its_probes_and_metrics() -> None:
    """/metrics, /healthz and /readyz answer without an API key: cluster-internal only."""
    import types

    from starter.http_api.app import create_app

    ingress = by_kind(render(OVERLAYS[0]), "Ingress")["tiktok-publisher-api"]
    app = create_app(service=types.SimpleNamespace(), mcp=True, max_body_bytes=1024)  # type: ignore[arg-type]
    routes = set(app.openapi()["paths"]) | {
        str(route.path) for route in app.router.routes if hasattr(route, "path")
    }
    assert "/v1/posts" in routes and "/mcp" in routes and "/docs" in routes
    assert not [path for path in routes if not _exposed(path, ingress)]
    for internal in ("/metrics", "/healthz", "/readyz", "/"):
        assert not _exposed(internal, ingress), internal


def test_the_oauth_callback_is_the_ingress_hosts() -> None:
    """Without it the API would send creators back to its 127.0.0.1 default."""
    from urllib.parse import urlsplit

    resources = render(OVERLAYS[0])
    config = by_kind(resources, "ConfigMap")["tiktok-publisher-config"]["data"]
    ingress = by_kind(resources, "Ingress")["tiktok-publisher-api"]
    callback = urlsplit(config["TIKTOK_REDIRECT_URI"])
    assert callback.scheme == "https"
    assert callback.hostname == ingress["spec"]["rules"][0]["host"]
    assert callback.path == "/v1/oauth/tiktok/callback"


def test_the_documented_secret_commands_create_every_key_the_pods_need() -> None:
    comment = (KUBE / "base" / "secret.example.yaml").read_text()
    keys = set(yaml.safe_load(comment)["stringData"])
    assert {"DATABASE_URL", "TIKTOK_TOKEN_KEYS"} <= keys  # the store refuses one without the other
    readme = (DEPLOY / "README.md").read_text()
    create = (
        r"kubectl -n tiktok-publisher create secret generic tiktok-publisher-secrets[^`]*?\n(?!\s)"
    )
    [command] = re.findall(create, readme)
    for where, text in (("deploy/README.md", command), ("secret.example.yaml", comment)):
        given = set(re.findall(r"--from-literal=([A-Z_]+)=", text))
        assert given == keys, f"{where}'s command misses {keys - given}"


def test_the_example_env_file_loads_as_systemd_reads_it() -> None:
    """systemd's EnvironmentFile and `docker --env-file` keep everything after `=`."""
    from worker.settings import load_settings

    env = {}
    for line in (DEPLOY / "worker.env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, value = line.split("=", 1)
            env[name] = value
    assert set(env) <= KNOWN_VARS, set(env) - KNOWN_VARS
    load_settings(env)  # raises ConfigError naming the variable


def test_each_temporal_target_is_configuration_only() -> None:
    rendered = {o.name: render(o) for o in OVERLAYS}
    config = {
        n: by_kind(r, "ConfigMap")["tiktok-publisher-config"]["data"] for n, r in rendered.items()
    }
    assert config["self-hosted"]["TEMPORAL_ADDRESS"].startswith("temporal-frontend.")
    assert config["temporal-cloud-api-key"]["TEMPORAL_ADDRESS"].endswith(".api.temporal.io:7233")
    mtls = config["temporal-cloud-mtls"]
    assert mtls["TEMPORAL_ADDRESS"].endswith(".tmprl.cloud:7233")
    for name in ("tiktok-publisher-worker", "tiktok-publisher-api"):
        deployment = by_kind(rendered["temporal-cloud-mtls"], "Deployment")[name]
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert str(Path(mtls["TEMPORAL_TLS_CLIENT_CERT_PATH"]).parent) in mounts
        keyed = by_kind(rendered["temporal-cloud-api-key"], "Deployment")[name]
        [container] = keyed["spec"]["template"]["spec"]["containers"]
        assert [e["name"] for e in container["env"]] == ["TEMPORAL_API_KEY"]
        assert container["envFrom"], "the patch keeps the base's configuration"
    # The same images and workloads everywhere: only configuration differs.
    images = {
        n: sorted(
            c["image"]
            for d in by_kind(r, "Deployment").values()
            for c in d["spec"]["template"]["spec"]["containers"]
        )
        for n, r in rendered.items()
    }
    assert len({tuple(v) for v in images.values()}) == 1


def test_temporal_cloud_needs_only_environment_variables(tmp_path: Path) -> None:
    from worker.config import temporal_connect_config

    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    cert.write_text("CERT")
    key.write_text("KEY")
    api_key = temporal_connect_config(
        {
            "TEMPORAL_ADDRESS": "eu-west-1.aws.api.temporal.io:7233",
            "TEMPORAL_NAMESPACE": "n.a",
            "TEMPORAL_API_KEY": "k",
        }
    )
    assert api_key["api_key"] == "k" and api_key["tls"] is True and api_key["namespace"] == "n.a"
    mtls = temporal_connect_config(
        {
            "TEMPORAL_ADDRESS": "n.a.tmprl.cloud:7233",
            "TEMPORAL_TLS_CLIENT_CERT_PATH": str(cert),
            "TEMPORAL_TLS_CLIENT_KEY_PATH": str(key),
        }
    )
    assert mtls["tls"].client_cert == b"CERT" and mtls["tls"].client_private_key == b"KEY"


# -- the page itself -------------------------------------------------------------------------


def test_the_metrics_table_names_each_series_with_its_labels() -> None:
    import worker.sleeper_eviction  # noqa: F401  (registers its counter)
    from telemetry.metrics import REGISTRY

    labels = {  # the series' base names (a counter's without `_total`) and label names
        collector._name: set(collector._labelnames)  # type: ignore[attr-defined]
        for collector in REGISTRY._collector_to_names
        if hasattr(collector, "_labelnames")
    }
    rows = re.findall(r"^\| (`tiktok_[^|]*)\| ([^|]*)\|", (DEPLOY / "README.md").read_text(), re.M)
    documented = set()
    for names, given in rows:
        for name in (n.removesuffix("_total") for n in re.findall(r"`(tiktok_\w+)`", names)):
            assert name in labels, f"deploy/README.md names {name}, which nothing exports"
            assert set(re.findall(r"`(\w+)`", given)) == labels[name], name
            documented.add(name)
    missing = {n for n in labels if n.startswith("tiktok_")} - documented
    assert not missing, f"deploy/README.md's metrics table lacks {missing}"
