"""Back up and restore one library: its PostgreSQL database and the files beside it (issue #16).

A backup is one dated folder, `<dir>/<library code>-<UTC time>/`, holding
- `database.dump`: `pg_dump -Fc` of the library's database (licences, keys encrypted under
  their passwords, the outbox and its counters, audit and access log);
- `files.tar`: the signed files (`FILES_ROOT`, default `VAR_DIR/files/<code>`);
- `keys.tar`: the key files (`VAR_DIR/keys`: the access-log checkpoint key, encrypted);
- `access-archive.tar`: the archived access-log segments (`ACCESS_ARCHIVE_DIR`), when any;
- `manifest.json`: the library code, when the dump ended, the SHA-256 and size of every part,
  and the stream marks at dump time (the outbox sequence per stream and what was acknowledged,
  the high-water mark of every sender).

Secrets in the environment (`SECRET_KEY`, the key passwords, `HOLDER_CODE_KEY(S)`) are not in
it: they are kept in the province's key escrow, and without them the dump's keys cannot open.

A restore checks the whole manifest before it touches anything: another library's backup
(`backup.library_mismatch`) or a part missing or altered (`backup.part_missing`,
`backup.part_corrupt`) is refused and nothing changes. Then it restores the database and puts
the directories back (the ones replaced are kept beside, `*.pre-restore-<time>`), and holds
every exchange stream (`shared.federation.restore.streams_hold`) until
`federation after-restore` has moved it past what the peers already hold.
"""

import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, connections, transaction

from shared.audit.services import audit_record
from shared.conf.env import var_dir
from shared.core.errors import PermanentError
from shared.federation.models import InboundCursor, StreamCounter, StreamState
from shared.federation.restore import streams_hold
from shared.files.storage import files_root

FORMAT = 1
MANIFEST = "manifest.json"
DATABASE = "database.dump"


def _directories() -> dict[str, Path]:
    """The directories a backup carries, by part name (each a tar of the directory)."""
    archive = settings.ACCESS_ARCHIVE_DIR or var_dir() / "access-archive"
    keys = (
        Path(settings.ACCESS_LOG_KEY_FILE).parent
        if settings.ACCESS_LOG_KEY_FILE
        else var_dir() / "keys"
    )
    return {"files.tar": files_root(), "keys.tar": keys, "access-archive.tar": Path(archive)}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _pg_env() -> tuple[dict[str, str], str]:
    db = settings.DATABASES["default"]
    # The vendor, not the ENGINE path: /metrics swaps in django-prometheus's PostgreSQL engine.
    if connections["default"].vendor != "postgresql":
        raise PermanentError(
            "backup.engine_unsupported",
            "备份与恢复只支持 PostgreSQL 数据库（嵌入式 SQLite 请直接复制 VAR_DIR）",
            {"engine": db["ENGINE"]},
        )
    env = dict(os.environ)
    for key, name in (("HOST", "PGHOST"), ("PORT", "PGPORT"), ("USER", "PGUSER")):
        if db.get(key):
            env[name] = str(db[key])
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    return env, str(db["NAME"])


def _run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603 - fixed programs, our own arguments
    if done.returncode != 0:
        raise PermanentError(
            "backup.tool_failed",
            f"{command[0]} 执行失败：{done.stderr.strip()[-500:]}",
            {"command": command[0], "returncode": done.returncode},
        )


def stream_marks() -> dict[str, Any]:
    """The outbox sequence and acknowledged mark of every stream, and every sender's mark."""
    acked = dict(StreamState.objects.values_list("stream", "acked_seq"))
    return {
        "outbox": {
            stream: {"last_seq": last, "acked_seq": acked.get(stream, 0)}
            for stream, last in StreamCounter.objects.values_list("stream", "last")
        },
        "inbound": dict(InboundCursor.objects.values_list("sender", "high_water_mark")),
    }


def backup_create(*, out: Path) -> Path:
    """Write a backup of this library into a new dated folder under `out`; its path."""
    env, name = _pg_env()
    started = datetime.now(UTC)
    folder = out / f"{settings.LIBRARY_CODE}-{started:%Y%m%dT%H%M%SZ}"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=False)
    except FileExistsError as exc:
        raise PermanentError(
            "backup.exists",
            "同名备份目录已存在（一秒内重复备份），稍后再试",
            {"folder": str(folder)},
        ) from exc
    marks = stream_marks()
    _run(["pg_dump", "-Fc", "--no-owner", "-f", str(folder / DATABASE), name], env)
    dumped_at = datetime.now(UTC)  # rows written after this are not in the dump
    for part, directory in _directories().items():
        if directory.is_dir():
            with tarfile.open(folder / part, "w") as tar:
                tar.add(directory, arcname=".")
    parts = {
        p.name: {"sha256": _sha256(p), "bytes": p.stat().st_size} for p in sorted(folder.iterdir())
    }
    manifest = {
        "format": FORMAT,
        "library_code": settings.LIBRARY_CODE,
        "started_at": started.isoformat(),
        "dumped_at": dumped_at.isoformat(),
        "database": name,
        "parts": parts,
        **marks,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
    return folder


def backup_verify(*, folder: Path) -> dict[str, Any]:
    """The manifest of the backup in `folder`, once every check passed; refuses otherwise."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        parts = manifest["parts"]
        code = manifest["library_code"]
        datetime.fromisoformat(manifest["dumped_at"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PermanentError(
            "backup.manifest_invalid", f"备份清单缺失或无法读取：{exc}", {"folder": str(folder)}
        ) from exc
    if manifest.get("format") != FORMAT:
        raise PermanentError(
            "backup.format_unknown", "备份格式版本不受支持", {"format": manifest.get("format")}
        )
    if code != settings.LIBRARY_CODE:
        raise PermanentError(
            "backup.library_mismatch",
            f"该备份属于库 {code}，不是本库 {settings.LIBRARY_CODE}，拒绝恢复",
            {"backup": code, "library": settings.LIBRARY_CODE},
        )
    if DATABASE not in parts:
        raise PermanentError("backup.part_missing", "备份缺少数据库部分", {"part": DATABASE})
    for part, expected in parts.items():
        path = folder / part
        if not path.is_file():
            raise PermanentError("backup.part_missing", f"备份缺少部分 {part}", {"part": part})
        if _sha256(path) != expected["sha256"]:
            raise PermanentError(
                "backup.part_corrupt",
                f"备份部分 {part} 的 SHA-256 与清单不符（已损坏或被改动），拒绝恢复",
                {"part": part},
            )
    return manifest


def _directory_replace(tar_path: Path, target: Path, stamp: str) -> None:
    """Unpack into a new directory beside `target`, then swap it in (the old one kept)."""
    fresh = target.with_name(f".{target.name}.restoring-{stamp}")
    fresh.mkdir(mode=0o700, parents=True)
    with tarfile.open(tar_path) as tar:
        tar.extractall(fresh, filter="data")
    if target.exists():
        target.rename(target.with_name(f"{target.name}.pre-restore-{stamp}"))
    fresh.rename(target)


# `pg_restore --clean` cannot drop a partition's inherited keys (the hub's licence tables and
# every library's access log are partitioned), so the database is restored into an empty schema
# instead: the dump turned into its SQL script first (a damaged dump stops here, before anything
# is dropped), then the schema dropped and the script replayed in one psql transaction — all or
# nothing, as `pg_restore --single-transaction` was.
RESET_SCHEMA = (
    "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public; "
    "GRANT USAGE ON SCHEMA public TO PUBLIC;"
)


def _restore_database(dump: Path, name: str, env: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "restore.sql"
        _run(["pg_restore", "--no-owner", "-f", str(script), str(dump)], env)
        _run(
            ["psql", "-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-d", name]
            + ["-c", RESET_SCHEMA, "-f", str(script)],
            env,
        )


def backup_restore(*, folder: Path) -> dict[str, Any]:
    """Restore this library from the backup in `folder` (web, workers and beat stopped);
    every check first (`backup_verify`), then the database, the directories, the held streams."""
    manifest = backup_verify(folder=folder)
    env, name = _pg_env()
    connection.close()  # pg_restore drops the tables this process would otherwise hold open
    _restore_database(folder / DATABASE, name, env)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    directories = _directories()
    for part in manifest["parts"]:
        if part in directories:
            _directory_replace(folder / part, directories[part], stamp)
    held = streams_hold(dumped_at=datetime.fromisoformat(manifest["dumped_at"]))
    with transaction.atomic():
        audit_record(
            actor=None,
            action="ops.restore",
            target_type="ops.backup",
            target_id=folder.name,
            before=None,
            after=None,
            detail={"dumped_at": manifest["dumped_at"], "held_streams": held},
        )
    return {"folder": str(folder), "dumped_at": manifest["dumped_at"], "held_streams": held}


def backup_prune(*, out: Path, keep: int) -> list[Path]:
    """Remove all but the newest `keep` backups of this library under `out`."""
    mine = sorted(out.glob(f"{settings.LIBRARY_CODE}-*T*Z"))
    gone = mine[:-keep] if keep > 0 else []
    for folder in gone:
        shutil.rmtree(folder)
    return gone
