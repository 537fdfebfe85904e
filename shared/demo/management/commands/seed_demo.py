import json
import os
from pathlib import Path

from django.core.management.base import BaseCommand

from shared.audit.context import audit_via
from shared.demo.seed import seed_demo


class Command(BaseCommand):
    help = "创建演示数据（单位、人员、令牌、证照类型与样例证照），可重复执行"

    def add_arguments(self, parser):
        parser.add_argument("--credentials", help="写入演示凭据 JSON 的文件路径")

    def handle(self, *args, credentials: str | None = None, **options):
        with audit_via("command"):  # the audit rows of what the seeding makes say so
            document = seed_demo()
        text = json.dumps(document, ensure_ascii=False, indent=2)
        if credentials:
            path = Path(credentials)
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Tokens and the holder's one-time-code secret: readable by this user only.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text + "\n")
            self.stdout.write(f"演示凭据已写入 {path}")
        else:
            self.stdout.write(text)
