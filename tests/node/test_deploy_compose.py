"""deploy/compose and deploy/docker: the compose files pass `docker-compose config` (and
`docker compose config` where the plugin exists) and run what each tier needs."""

import http.server
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
TIERS = {"hub": "provincial_hub", "node": "municipal_node"}
APP_IMAGE = "elicense:latest"


def _documented() -> set[str]:
    text = (ROOT / "docs" / "environment.md").read_text()
    return set(re.findall(r"^\|\s*`([A-Z][A-Z0-9_]*)`", text, re.MULTILINE))


def laid_out(tmp_path: Path, tier: str, text: str | None = None) -> Path:
    """deploy/compose and deploy/nginx under tmp_path, with the env files an operator makes from
    the examples (compose refuses a missing env_file)."""
    compose = tmp_path / "deploy" / "compose"
    shutil.copytree(DEPLOY / "compose", compose)
    shutil.copytree(DEPLOY / "nginx", tmp_path / "deploy" / "nginx")
    for example in compose.glob("*.env.example"):
        shutil.copy(example, compose / example.name.removesuffix(".example"))
    if text is not None:
        (compose / f"{tier}.yml").write_text(text)
    return compose / f"{tier}.yml"


def compose_tools() -> list[list[str]]:
    tools = []
    legacy = shutil.which("docker-compose")
    assert legacy, "docker-compose is installed by deploy/system-packages.sh"
    tools.append([legacy])
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        tools.append([docker, "compose"])
    return tools


def config(tool: list[str], path: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*tool, "-f", str(path), "config", *extra],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=path.parent,
    )


@pytest.fixture(scope="module", params=sorted(TIERS))
def resolved(request, tmp_path_factory) -> tuple[str, dict]:
    """(tier, the file as docker-compose resolves it: anchors merged, paths absolute)."""
    path = laid_out(tmp_path_factory.mktemp(request.param), request.param)
    result = config(compose_tools()[0], path)
    assert result.returncode == 0, result.stderr
    return request.param, yaml.safe_load(result.stdout)


@pytest.mark.parametrize("tier", sorted(TIERS))
def test_the_compose_files_pass_config(tmp_path, tier):
    path = laid_out(tmp_path, tier)
    for tool in compose_tools():
        result = config(tool, path, "-q")
        assert result.returncode == 0, (tool, result.stderr)
        assert "WARN" not in result.stderr.upper(), (tool, result.stderr)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("condition: service_completed_successfully", "condition: service_finished"),
        ("      retries: 20\n", "      retries: many\n"),
        ("  beat:\n", "  beat:\n    bogus_key: 1\n"),
    ],
)
def test_config_catches_a_broken_file(tmp_path, old, new):
    original = (DEPLOY / "compose" / "hub.yml").read_text()
    assert old in original
    path = laid_out(tmp_path, "hub", original.replace(old, new, 1))
    assert config(compose_tools()[0], path, "-q").returncode != 0


def _app_services(services: dict) -> dict:
    return {name: s for name, s in services.items() if s.get("image") == APP_IMAGE}


def _command(service: dict) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else command


def test_one_beat_a_worker_per_queue_and_migrate_first(resolved):
    tier, data = resolved
    app = _app_services(data["services"])
    package = TIERS[tier]
    # exactly one beat, never scaled
    beats = [n for n, s in app.items() if f"celery -A {package} beat" in _command(s)]
    assert beats == ["beat"]
    assert app["beat"]["deploy"]["replicas"] == 1
    # one worker per queue the settings declare
    queues = sorted(q.name for q in settings.CELERY_TASK_QUEUES)
    workers = sorted(
        re.search(r" -Q (\S+)", _command(s)).group(1)  # type: ignore[union-attr]
        for s in app.values()
        if f"celery -A {package} worker" in _command(s)
    )
    assert workers == queues == ["default", "signing"]
    # migrate is a one-shot everything else waits for
    assert f"manage.py {tier} migrate --noinput" in _command(app["migrate"])
    assert app["migrate"]["restart"] == "no"
    for name, service in app.items():
        if name != "migrate":
            condition = service["depends_on"]["migrate"]["condition"]
            assert condition == "service_completed_successfully", name
    assert f"{package}.wsgi:application" in _command(app["web"])
    # gunicorn through web.sh: a fresh prometheus multiprocess directory at every start
    assert _command(app["web"]).startswith("/opt/elicense/deploy/docker/web.sh ")


def test_web_sh_starts_gunicorn_on_an_empty_metrics_directory(tmp_path):
    """The wrapper every container's web server runs (compose, Helm, the image's CMD)."""
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    (metrics / "counter_4242.db").write_bytes(b"stale: a previous run's worker")
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}
    env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics)
    result = subprocess.run(
        [str(DEPLOY / "docker" / "web.sh"), "--version"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "gunicorn" in (result.stdout + result.stderr)
    assert metrics.is_dir() and list(metrics.iterdir()) == []


def test_the_web_service_is_checked_on_readyz(resolved):
    _, data = resolved
    web = data["services"]["web"]
    assert web["healthcheck"]["test"] == [
        "CMD",
        "python",
        "/opt/elicense/deploy/docker/healthcheck.py",
    ]
    assert '"/readyz"' in (DEPLOY / "docker" / "healthcheck.py").read_text()
    assert data["services"]["nginx"]["depends_on"]["web"]["condition"] == "service_healthy"


def test_rabbitmq_and_the_exchange_consumer_at_the_hub_only(resolved):
    tier, data = resolved
    services = data["services"]
    if tier == "hub":
        assert "rabbitmq" in services
        assert _command(services["exchange-consume"]) == "python manage.py hub exchange_consume"
        assert services["exchange-consume"]["depends_on"]["rabbitmq"] == {
            "condition": "service_healthy"
        }
    else:
        assert "rabbitmq" not in services
        assert not any("exchange_consume" in _command(s) for s in services.values())


def test_nginx_runs_the_repository_configuration_with_tls_and_mtls(resolved):
    _, data = resolved
    nginx = data["services"]["nginx"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in nginx["volumes"]}
    assert Path(mounts["/etc/elicense/elicense.conf.in"]).name == "elicense.conf"
    assert mounts["/etc/elicense/nginx-proxy.conf"].endswith("deploy/nginx/nginx-proxy.conf")
    assert "/etc/elicense/tls" in mounts
    assert {p["target"] for p in nginx["ports"]} == {80, 443, 8443}
    # the upstream rewrite matches the configuration's upstream (else nginx has no backend)
    assert "server 127.0.0.1:8000 " in (DEPLOY / "nginx" / "elicense.conf").read_text()
    assert "s/server 127.0.0.1:8000 /server web:8000 /" in _command(nginx)


def test_secrets_come_from_files_and_every_variable_is_documented(resolved):
    tier, data = resolved
    app = _app_services(data["services"])
    raw = yaml.safe_load((DEPLOY / "compose" / f"{tier}.yml").read_text())["services"]
    for name, service in app.items():
        assert raw[name]["env_file"] == f"{tier}.env", name  # resolved: merged into environment
        env = service["environment"]
        assert env["DJANGO_ENV"] == "production"
        for variable in ("EXCHANGE_TLS_CLIENT_CERT", "EXCHANGE_TLS_CLIENT_KEY"):
            assert env[variable].startswith("/run/secrets/"), (name, variable)
        assert {s["source"] for s in service["secrets"]} >= {
            "exchange_client_crt",
            "exchange_client_key",
        }
    assert data["services"]["postgres"]["environment"]["POSTGRES_PASSWORD_FILE"].startswith(
        "/run/secrets/"
    )
    example = (DEPLOY / "compose" / f"{tier}.env.example").read_text()
    names = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", example, re.MULTILINE))
    names |= {k for s in app.values() for k in s["environment"]}
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL"} <= names
    assert names - _documented() == set()


def test_the_image_is_slim_python_non_root_with_known_packages():
    dockerfile = (DEPLOY / "docker" / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", dockerfile, re.MULTILINE)
    users = re.findall(r"^USER (\S+)", dockerfile, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    line = re.search(r"--no-install-recommends \\\n\s+([^\n]+)\n", dockerfile)
    assert line
    installed = set(line.group(1).split()) - {"\\"}
    script = (DEPLOY / "system-packages.sh").read_text()
    listed = re.search(r"^PACKAGES=\(([^)]*)\)", script, re.MULTILINE)
    assert listed
    known = set(listed.group(1).split())
    assert installed <= known
    assert {"fonts-wqy-microhei", "softhsm2"} <= installed


class _Readyz(http.server.BaseHTTPRequestHandler):
    answer = 200
    seen: list[str] = []

    def do_GET(self):  # noqa: N802
        self.seen.append(f"{self.headers['Host']} {self.path}")
        self.send_response(self.answer)
        self.end_headers()
        self.wfile.write(b'{"status": "x"}')

    def log_message(self, *args):
        """Silent: http.server would print every probe to stderr."""


@pytest.mark.parametrize(("answer", "exit_code"), [(200, 0), (503, 1)])
def test_the_healthcheck_asks_readyz_as_the_first_allowed_host(answer, exit_code):
    _Readyz.answer = answer
    _Readyz.seen = []
    server = http.server.HTTPServer(("127.0.0.1", 0), _Readyz)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result = subprocess.run(
            [sys.executable, str(DEPLOY / "docker" / "healthcheck.py"), str(server.server_port)],
            env={"ALLOWED_HOSTS": ".dzzz.example.gov.cn,other.example"},
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        server.shutdown()
    assert result.returncode == exit_code, result.stderr
    assert _Readyz.seen == ["dzzz.example.gov.cn /readyz"]
