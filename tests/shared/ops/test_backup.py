"""`ops backup` / `ops restore` (shared.ops.backup): a real `pg_dump` of the test database,
and the checks a restore makes before it touches anything. The restore itself (pg_restore,
the directories, the held streams, after-restore) runs in tests/federation/test_federation_restore.py
against real libraries: here it would drop the tables under the test's own transaction."""

import json
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from shared.core.errors import PermanentError
from shared.federation.models import StreamCounter
from shared.licenses.models import License
from shared.ops import backup

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def made(tmp_path, settings):
    settings.FILES_ROOT = str(tmp_path / "files")
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "a.pdf").write_bytes(b"%PDF-1.7 signed")
    StreamCounter.objects.create(stream="410000", last=7)
    return backup.backup_create(out=tmp_path / "backups")


def test_a_backup_is_a_dated_folder_with_a_manifest_of_every_part(made):
    # then
    assert made.name.startswith(f"{settings.LIBRARY_CODE}-")
    manifest = json.loads((made / "manifest.json").read_text())
    assert manifest["library_code"] == settings.LIBRARY_CODE
    assert {"database.dump", "files.tar"} <= set(manifest["parts"])
    assert manifest["outbox"]["410000"] == {"last_seq": 7, "acked_seq": 0}
    listing = subprocess.run(
        ["pg_restore", "-l", str(made / "database.dump")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "TABLE DATA public licenses_license" in listing
    assert backup.backup_verify(folder=made)["parts"] == manifest["parts"]


def test_a_corrupt_part_is_refused_before_anything_changes(made):
    # given: one byte of the dump altered
    dump = made / "database.dump"
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))
    before = License.objects.count(), StreamCounter.objects.get(stream="410000").last
    # when
    with pytest.raises(CommandError, match="backup.part_corrupt"):
        call_command("ops", "restore", "--from", str(made), "--yes")
    # then
    assert (License.objects.count(), StreamCounter.objects.get(stream="410000").last) == before


def test_another_librarys_backup_is_refused(made):
    manifest = json.loads((made / "manifest.json").read_text())
    manifest["library_code"] = "410300"
    (made / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(PermanentError) as refused:
        backup.backup_restore(folder=made)
    assert refused.value.code == "backup.library_mismatch"
    assert "410300" in refused.value.message


def test_a_missing_part_or_manifest_is_refused(made):
    (made / "files.tar").unlink()
    with pytest.raises(PermanentError) as missing:
        backup.backup_verify(folder=made)
    assert missing.value.code == "backup.part_missing"
    (made / "manifest.json").unlink()
    with pytest.raises(PermanentError) as gone:
        backup.backup_verify(folder=made)
    assert gone.value.code == "backup.manifest_invalid"


def test_restore_without_yes_only_verifies(made):
    with pytest.raises(CommandError, match="restore.unconfirmed"):
        call_command("ops", "restore", "--from", str(made))
    assert StreamCounter.objects.get(stream="410000").last == 7


def test_prune_keeps_the_newest(made, tmp_path):
    older = tmp_path / "backups" / f"{settings.LIBRARY_CODE}-20200101T000000Z"
    older.mkdir()
    gone = backup.backup_prune(out=tmp_path / "backups", keep=1)
    assert gone == [older]
    assert made.is_dir()


def test_the_embedded_sqlite_library_is_refused_with_its_code(tmp_path):
    """The demo's SQLite: `ops backup` says what to do instead (the engine is checked by its
    vendor: /metrics wraps the PostgreSQL and SQLite engines in django-prometheus's)."""
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_ENV": "development",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "VAR_DIR": str(tmp_path / "var"),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "node", "ops", "backup", "--out", str(tmp_path / "b")],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "backup.engine_unsupported" in result.stderr, result.stderr[-2000:]
    assert not (tmp_path / "b").exists() or not any((tmp_path / "b").iterdir())
