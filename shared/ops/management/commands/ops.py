"""`python manage.py <tier> ops backup|verify|restore|prune` (docs/operations.md, 备份与恢复)."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from shared.audit.context import audit_via
from shared.core.errors import ApplicationError
from shared.ops import backup


class Command(BaseCommand):
    help = "备份与恢复本库：数据库（pg_dump -Fc）、签章文件、密钥文件与清单"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        make = sub.add_parser("backup", help="备份到 DIR 下新建的带日期目录")
        make.add_argument("--out", required=True, type=Path)
        check = sub.add_parser("verify", help="只校验备份清单与各部分摘要，不做任何改动")
        check.add_argument("--from", dest="folder", required=True, type=Path)
        restore = sub.add_parser(
            "restore",
            help="从备份恢复（须先停止本库的 web、worker、beat）；之后执行 federation after-restore",
        )
        restore.add_argument("--from", dest="folder", required=True, type=Path)
        restore.add_argument("--yes", action="store_true", help="确认覆盖本库的当前数据")
        prune = sub.add_parser("prune", help="只保留最新的 N 份本库备份")
        prune.add_argument("--out", required=True, type=Path)
        prune.add_argument("--keep", required=True, type=int)

    def handle(self, *args, action: str, **options):
        try:
            with audit_via("command"):
                self.run(action, **options)
        except ApplicationError as exc:
            raise CommandError(f"{exc.code}: {exc.message} {exc.detail or ''}") from exc

    def run(self, action: str, **options) -> None:
        if action == "backup":
            self.stdout.write(str(backup.backup_create(out=options["out"])))
        elif action == "verify":
            manifest = backup.backup_verify(folder=options["folder"])
            self.stdout.write(json.dumps(manifest, ensure_ascii=False))
        elif action == "restore":
            if not options["yes"]:
                backup.backup_verify(folder=options["folder"])
                raise CommandError(
                    "restore.unconfirmed: 备份校验通过；恢复会覆盖本库当前数据，确认后加 --yes 再执行"
                )
            result = backup.backup_restore(folder=options["folder"])
            self.stdout.write(json.dumps(result, ensure_ascii=False))
            self.stdout.write("下一步：启动 web 前执行 federation after-restore")
        elif action == "prune":
            for folder in backup.backup_prune(out=options["out"], keep=options["keep"]):
                self.stdout.write(f"removed {folder}")
