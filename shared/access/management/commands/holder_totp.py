import base64
import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django_otp.oath import totp


class Command(BaseCommand):
    help = "演示用：根据演示凭据文件中持证人的 TOTP 密钥，打印当前的 6 位动态口令"

    def add_arguments(self, parser):
        parser.add_argument("--credentials", required=True, help="seed_demo 写出的凭据 JSON")

    def handle(self, *args, credentials: str, **options):
        try:
            holder = json.loads(Path(credentials).read_text(encoding="utf-8"))["holder"]
        except (OSError, ValueError, KeyError) as exc:
            raise CommandError(f"无法读取持证人凭据：{exc}") from exc
        secret = holder["totp_secret"]
        key = base64.b32decode(secret + "=" * (-len(secret) % 8))
        self.stdout.write(f"{totp(key):06d}")
