"""deploy/systemd: the bare-metal units of a city node and of the hub pass `systemd-analyze
verify`."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
TIERS = {"node": "municipal_node", "hub": "provincial_hub"}
SERVICES = {
    "node": ["web", "migrate", "beat", "worker@"],
    "hub": ["web", "migrate", "beat", "worker@", "exchange-consume", "exchange-web"],
}
QUEUES = ("default", "signing")
HARDENING = [
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    "PrivateTmp=yes",
    "ReadWritePaths=/var/lib/elicense",
]


def installed(tmp_path: Path) -> Path:
    """The units as a host would have them, except that the virtualenv is this one (verify checks
    that every ExecStart= binary exists and is executable)."""
    venv_bin = str(Path(sys.executable).parent) + "/"
    for unit in UNITS.glob("*.service"):
        text = unit.read_text().replace("/opt/elicense/.venv/bin/", venv_bin)
        (tmp_path / unit.name).write_text(text)
    for tier in TIERS:
        for queue in QUEUES:
            (tmp_path / f"elicense-{tier}-worker@{queue}.service").symlink_to(
                tmp_path / f"elicense-{tier}-worker@.service"
            )
    return tmp_path


def unit_names(tier: str) -> list[str]:
    names = []
    for service in SERVICES[tier]:
        if service.endswith("@"):
            names += [f"elicense-{tier}-{service}{queue}.service" for queue in QUEUES]
        else:
            names.append(f"elicense-{tier}-{service}.service")
    return names


def verify(directory: Path, tier: str = "node") -> subprocess.CompletedProcess:
    systemd_analyze = shutil.which("systemd-analyze")
    assert systemd_analyze, "systemd-analyze is part of systemd; install it"
    return subprocess.run(
        [systemd_analyze, "verify", "--man=no", *(str(directory / u) for u in unit_names(tier))],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=directory,
    )


def test_every_unit_in_the_directory_is_checked():
    listed = {f"elicense-{t}-{s}.service" for t in TIERS for s in SERVICES[t]}
    assert {u.name for u in UNITS.glob("*.service")} == listed


@pytest.mark.parametrize("tier", sorted(TIERS))
def test_the_units_verify_clean(tmp_path, tier):
    result = verify(installed(tmp_path), tier)
    # verify exits 0 on a misspelt key or value and only warns: any output is a failure.
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr
    assert result.stdout.strip() == "", result.stdout


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("Restart=on-failure", "Restart=sometimes"),  # a bad value: warned, exit 0
        ("[Install]", "Bogus=1\n[Install]"),  # an unknown key: warned, exit 0
        ("/opt/elicense/.venv/bin/gunicorn", "/nonexistent/gunicorn"),  # exit 1
    ],
)
@pytest.mark.parametrize("tier", sorted(TIERS))
def test_the_check_catches_a_broken_unit(tmp_path, tier, old, new):
    directory = installed(tmp_path)
    web = directory / f"elicense-{tier}-web.service"
    original = (UNITS / f"elicense-{tier}-web.service").read_text()
    assert old in original
    venv_bin = str(Path(sys.executable).parent) + "/"
    web.write_text(original.replace(old, new, 1).replace("/opt/elicense/.venv/bin/", venv_bin))
    result = verify(directory, tier)
    assert result.returncode != 0 or result.stderr.strip()


@pytest.mark.parametrize(("tier", "name"), [(t, s) for t in TIERS for s in SERVICES[t]])
def test_every_unit_reads_the_env_file_as_its_own_user_hardened(tier, name):
    text = (UNITS / f"elicense-{tier}-{name}.service").read_text()
    assert f"EnvironmentFile=/etc/elicense/{tier}.env" in text
    assert "User=elicense" in text
    for line in HARDENING:
        assert line in text, f"{tier} {name}: {line}"


@pytest.mark.parametrize(
    ("tier", "name"), [(t, s) for t in TIERS for s in SERVICES[t] if s != "migrate"]
)
def test_the_processes_start_after_the_migrations(tier, name):
    text = (UNITS / f"elicense-{tier}-{name}.service").read_text()
    assert f"Requires=elicense-{tier}-migrate.service" in text
    assert f"After=elicense-{tier}-migrate.service" in text


@pytest.mark.parametrize("tier", sorted(TIERS))
def test_migrate_is_a_oneshot_and_the_worker_takes_its_queue_from_the_instance(tier):
    package = TIERS[tier]
    migrate = (UNITS / f"elicense-{tier}-migrate.service").read_text()
    assert "Type=oneshot" in migrate
    assert f"manage.py {tier} migrate --noinput" in migrate
    worker = (UNITS / f"elicense-{tier}-worker@.service").read_text()
    assert "-Q %i" in worker
    assert f"celery -A {package} worker" in worker
    beat = (UNITS / f"elicense-{tier}-beat.service").read_text()
    assert f"celery -A {package} beat" in beat
    web = (UNITS / f"elicense-{tier}-web.service").read_text()
    assert f"gunicorn {package}.wsgi:application" in web


def test_the_hub_runs_the_exchange_consumer():
    consumer = (UNITS / "elicense-hub-exchange-consume.service").read_text()
    assert "manage.py hub exchange_consume" in consumer
    assert "rabbitmq-server.service" in consumer


def test_the_hubs_exchange_has_its_own_pool_of_sync_workers():
    """Each envelope in a process of its own (bench/sync: threaded workers let two cities'
    envelopes share one process and its GIL); nginx's exchange upstream is that pool."""
    unit = (UNITS / "elicense-hub-exchange-web.service").read_text()
    assert "--worker-class sync" in unit and "--threads 1" in unit
    assert "--bind 127.0.0.1:8001" in unit
    nginx = (ROOT / "deploy" / "nginx" / "elicense.conf").read_text()
    assert nginx.count("proxy_pass http://elicense_exchange;") == 2
