"""deploy/helm/elicense-hub: `helm lint` and `helm template` pass, and what they render is valid
Kubernetes (kubernetes-validate: the API schemas, offline; `kubectl apply --dry-run=client`
needs an API server to discover the kinds) and runs what the hub needs."""

import re
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "elicense-hub"
KUBERNETES = ["1.30.0", kubernetes_validate.latest_version()]


def helm(*args: str, chart: Path = CHART) -> subprocess.CompletedProcess:
    binary = shutil.which("helm")
    assert binary, "helm is installed by deploy/system-packages.sh (from npm)"
    return subprocess.run([binary, *args, str(chart)], capture_output=True, text=True, timeout=120)


def rendered(*sets: str, chart: Path = CHART) -> list[dict]:
    args = ["template", "elicense"]
    for value in sets:
        args += ["--set", value]
    result = helm(*args, chart=chart)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


@pytest.fixture(scope="module")
def docs() -> list[dict]:
    return rendered()


def test_helm_lint_is_clean():
    result = helm("lint", "--strict")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout, result.stdout


def test_helm_lint_catches_a_broken_template(tmp_path):
    chart = tmp_path / "elicense-hub"
    shutil.copytree(CHART, chart)
    beat = chart / "templates" / "beat.yaml"
    beat.write_text(beat.read_text().replace("{{- include", "{{- inclde", 1))
    assert helm("lint", "--strict", chart=chart).returncode != 0


@pytest.mark.parametrize("version", KUBERNETES)
def test_every_rendered_resource_is_valid_kubernetes(docs, version):
    kinds = sorted(d["kind"] for d in docs)
    assert set(kinds) == {
        "ConfigMap",
        "Deployment",
        "Ingress",
        "Job",
        "PersistentVolumeClaim",
        "PodDisruptionBudget",
        "Service",
    }
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)


def test_the_validator_refuses_a_broken_resource(docs):
    web = next(d for d in docs if d["metadata"]["name"] == "elicense-elicense-hub-web")
    broken = {**web, "spec": {**web["spec"], "replicas": "two"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES[0], strict=True)
    unknown = {**web, "spec": {**web["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(unknown, KUBERNETES[0], strict=True)


def _container(deployment: dict) -> dict:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def test_one_beat_whatever_the_values_say():
    docs = rendered("beat.replicas=5", "beat.strategy.type=RollingUpdate")
    beat = by_kind(docs, "Deployment")["elicense-elicense-hub-beat"]
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    assert _container(beat)["command"][:4] == ["celery", "-A", "provincial_hub", "beat"]
    beats = [d for d in by_kind(docs, "Deployment").values() if "beat" in _container(d)["command"]]
    assert len(beats) == 1


def test_a_worker_per_queue_with_its_disruption_budget(docs):
    deployments = by_kind(docs, "Deployment")
    queues = sorted(q.name for q in settings.CELERY_TASK_QUEUES)
    workers = {}
    for deployment in deployments.values():
        command = _container(deployment)["command"]
        if command[:4] == ["celery", "-A", "provincial_hub", "worker"]:
            workers[command[command.index("-Q") + 1]] = deployment
    assert sorted(workers) == queues == ["default", "signing"]
    budgets = by_kind(docs, "PodDisruptionBudget")
    for queue, deployment in workers.items():
        labels = deployment["spec"]["selector"]["matchLabels"]
        assert budgets[f"elicense-elicense-hub-worker-{queue}"]["spec"]["selector"] == {
            "matchLabels": labels
        }
        assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] >= 60


def test_migrations_run_as_a_hook_before_install_and_upgrade(docs):
    (job,) = by_kind(docs, "Job").values()
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert _container(job)["command"] == ["python", "manage.py", "hub", "migrate", "--noinput"]
    # the ConfigMap the Job reads exists before it (a hook with a lower weight)
    (config,) = by_kind(docs, "ConfigMap").values()
    assert config["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    weight = int(config["metadata"]["annotations"]["helm.sh/hook-weight"])
    assert weight < int(annotations["helm.sh/hook-weight"])


def test_web_probes_readyz_and_healthz_as_an_allowed_host(docs):
    web = by_kind(docs, "Deployment")["elicense-elicense-hub-web"]
    container = _container(web)
    readiness, liveness = container["readinessProbe"], container["livenessProbe"]
    assert readiness["httpGet"]["path"] == "/readyz"
    assert liveness["httpGet"]["path"] == "/healthz"
    host = {"name": "Host", "value": "dzzz.henan.example.gov.cn"}
    assert readiness["httpGet"]["httpHeaders"] == [host]
    assert container["command"][1] == "provincial_hub.wsgi:application"
    # gunicorn through web.sh: a fresh prometheus multiprocess directory (under the /tmp
    # emptyDir) at every start
    assert container["command"][0] == "/opt/elicense/deploy/docker/web.sh"
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]


def test_every_process_reads_the_config_map_and_the_secret_with_resources(docs):
    pods = [*by_kind(docs, "Deployment").values(), *by_kind(docs, "Job").values()]
    assert len(pods) == 7  # web, exchange web, 2 workers, beat, exchange consumer, migrate
    for pod in pods:
        container = _container(pod)
        sources = container["envFrom"]
        assert {"configMapRef": {"name": "elicense-elicense-hub-config"}} in sources
        assert {"secretRef": {"name": "elicense-hub-env"}} in sources
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["DJANGO_ENV"] == "production"
        assert env["EXCHANGE_TLS_CLIENT_CERT"] == "/etc/elicense/exchange-tls/tls.crt"
        assert container["resources"]["requests"] and container["resources"]["limits"]
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert pod["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


def test_ingress_tls_mtls_on_the_exchange_and_limits_on_verify(docs):
    ingresses = by_kind(docs, "Ingress")
    for ingress in ingresses.values():
        assert ingress["spec"]["tls"][0]["secretName"]
    exchange = ingresses["elicense-elicense-hub-exchange"]
    assert (
        exchange["metadata"]["annotations"]["nginx.ingress.kubernetes.io/auth-tls-verify-client"]
        == "on"
    )
    paths = [p["path"] for p in exchange["spec"]["rules"][0]["http"]["paths"]]
    assert paths == ["/api/v1/exchange/", "/api/v1/federation/"]
    verify = ingresses["elicense-elicense-hub-verify"]
    assert "nginx.ingress.kubernetes.io/limit-rps" in verify["metadata"]["annotations"]
    paths = [p["path"] for p in verify["spec"]["rules"][0]["http"]["paths"]]
    assert paths == ["/api/v1/public/verify/", "/v/"]


def test_the_public_host_refuses_the_exchange_paths(docs):
    # The exchange is served on its own host behind client certificates; on the public host its
    # paths must be refused, not passed to the web tier without a certificate.
    ingresses = by_kind(docs, "Ingress")
    public_host = ingresses["elicense-elicense-hub-public"]["spec"]["rules"][0]["host"]
    exchange = ingresses["elicense-elicense-hub-exchange"]
    exchange_paths = {p["path"] for p in exchange["spec"]["rules"][0]["http"]["paths"]}
    refusing = ingresses["elicense-elicense-hub-public-no-exchange"]
    rule = refusing["spec"]["rules"][0]
    assert rule["host"] == public_host
    assert {p["path"] for p in rule["http"]["paths"]} == exchange_paths
    allowed = refusing["metadata"]["annotations"][
        "nginx.ingress.kubernetes.io/whitelist-source-range"
    ]
    assert allowed == "127.255.255.255/32"  # an address no client has: everyone gets 403


def test_without_a_client_certificate_secret_none_is_mounted():
    docs = rendered("exchangeClientTls.secretName=")
    web = _container(by_kind(docs, "Deployment")["elicense-elicense-hub-web"])
    assert "EXCHANGE_TLS_CLIENT_CERT" not in {e["name"] for e in web["env"]}


def _has(values: dict, path: list[str]) -> bool:
    node = values
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def test_every_value_the_templates_read_is_in_values_yaml():
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    referenced = set()
    for template in (CHART / "templates").glob("*"):
        referenced |= set(re.findall(r"\.Values((?:\.[A-Za-z0-9_]+)+)", template.read_text()))
    assert len(referenced) > 20
    missing = sorted(r for r in referenced if not _has(values, r.strip(".").split(".")))
    assert missing == []
    # the config the chart renders names only variables the settings read
    documented = set(
        re.findall(
            r"^\|\s*`([A-Z][A-Z0-9_]*)`",
            (ROOT / "docs" / "environment.md").read_text(),
            re.MULTILINE,
        )
    )
    assert set(values["config"]) - documented == set()
