"""deploy/backup: the nightly backup unit and timer pass `systemd-analyze verify`, and the unit
runs the script that calls `ops backup`, `ops verify` and `ops prune`."""

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BACKUP = ROOT / "deploy" / "backup"


def test_the_backup_unit_and_timer_verify_clean(tmp_path):
    # given: the units as a host would have them, the tree being this checkout
    for unit in ("elicense-node-backup.service", "elicense-node-backup.timer"):
        text = (BACKUP / unit).read_text().replace("/opt/elicense/", f"{ROOT}/")
        (tmp_path / unit).write_text(text)
    systemd_analyze = shutil.which("systemd-analyze")
    assert systemd_analyze, "systemd-analyze is part of systemd; install it"
    # when
    result = subprocess.run(
        [systemd_analyze, "verify", "--man=no", str(tmp_path / "elicense-node-backup.timer")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    # then: verify exits 0 on a misspelt key and only warns, so any output is a failure
    assert (result.returncode, result.stderr.strip(), result.stdout.strip()) == (0, "", "")


def test_the_script_backs_up_verifies_and_prunes():
    script = (BACKUP / "backup.sh").read_text()
    assert subprocess.run(["sh", "-n", str(BACKUP / "backup.sh")], check=False).returncode == 0
    for step in ("ops backup --out", "ops verify --from", "ops prune --out"):
        assert step in script
    assert (
        "deploy/backup/backup.sh node /var/backups/elicense 14"
        in (BACKUP / "elicense-node-backup.service").read_text()
    )
