"""deploy/systemd: the bare-metal city node's units pass `systemd-analyze verify`."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
SERVICES = ["web", "migrate", "beat", "worker@"]
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
    for queue in ("default", "signing"):
        (tmp_path / f"elicense-node-worker@{queue}.service").symlink_to(
            tmp_path / "elicense-node-worker@.service"
        )
    return tmp_path


def verify(directory: Path) -> subprocess.CompletedProcess:
    systemd_analyze = shutil.which("systemd-analyze")
    assert systemd_analyze, "systemd-analyze is part of systemd; install it"
    units = [
        "elicense-node-web.service",
        "elicense-node-migrate.service",
        "elicense-node-beat.service",
        "elicense-node-worker@default.service",
        "elicense-node-worker@signing.service",
    ]
    return subprocess.run(
        [systemd_analyze, "verify", "--man=no", *(str(directory / u) for u in units)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=directory,
    )


def test_the_units_verify_clean(tmp_path):
    result = verify(installed(tmp_path))
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
def test_the_check_catches_a_broken_unit(tmp_path, old, new):
    directory = installed(tmp_path)
    web = directory / "elicense-node-web.service"
    original = (UNITS / "elicense-node-web.service").read_text()
    assert old in original
    venv_bin = str(Path(sys.executable).parent) + "/"
    web.write_text(original.replace(old, new, 1).replace("/opt/elicense/.venv/bin/", venv_bin))
    result = verify(directory)
    assert result.returncode != 0 or result.stderr.strip()


@pytest.mark.parametrize("name", SERVICES)
def test_every_unit_reads_the_env_file_as_its_own_user_hardened(name):
    text = (UNITS / f"elicense-node-{name}.service").read_text()
    assert "EnvironmentFile=/etc/elicense/node.env" in text
    assert "User=elicense" in text
    for line in HARDENING:
        assert line in text, f"{name}: {line}"


@pytest.mark.parametrize("name", ["web", "beat", "worker@"])
def test_the_processes_start_after_the_migrations(name):
    text = (UNITS / f"elicense-node-{name}.service").read_text()
    assert "Requires=elicense-node-migrate.service" in text
    assert "After=elicense-node-migrate.service" in text


def test_migrate_is_a_oneshot_and_the_worker_takes_its_queue_from_the_instance():
    migrate = (UNITS / "elicense-node-migrate.service").read_text()
    assert "Type=oneshot" in migrate
    assert "manage.py node migrate --noinput" in migrate
    worker = (UNITS / "elicense-node-worker@.service").read_text()
    assert "-Q %i" in worker
    beat = (UNITS / "elicense-node-beat.service").read_text()
    assert "celery -A municipal_node beat" in beat
