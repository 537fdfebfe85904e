"""`python manage.py <hub|node> holder_keys <status|rotate|retire>`: the holder-code key."""

import time

from django.core.management.base import BaseCommand, CommandError

from shared.audit.context import audit_via
from shared.core.errors import ApplicationError
from shared.holder_keys.models import HolderKeyRotation
from shared.holder_keys.selectors import holder_key_status
from shared.holder_keys.services import holder_key_retire, holder_key_rotation_start


class Command(BaseCommand):
    help = "持证主体代码密钥：查看各版本、后台重新加密到当前版本、停用旧版本"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("status", help="列出密钥版本、各版本的数据条数和最近的轮换")
        rotate = sub.add_parser(
            "rotate", help="后台把全部持证主体代码重新加密到当前版本（可重复执行、可续跑）"
        )
        rotate.add_argument("--wait", action="store_true", help="等待轮换结束并显示进度")
        retire = sub.add_parser("retire", help="停用旧密钥版本（仍有数据使用它时拒绝）")
        retire.add_argument("--version", type=int, required=True, help="要停用的密钥版本")
        retire.add_argument("--reason", default="", help="停用原因（不超过 200 字）")

    def handle(self, *args, action: str, **options):
        with audit_via("command"):
            try:
                getattr(self, "do_" + action)(**options)
            except ApplicationError as exc:
                raise CommandError(f"{exc.message}（{exc.code}）") from exc

    def do_status(self, **options):
        status = holder_key_status()
        self.stdout.write(f"当前写入版本：{status['current']}")
        for v in status["versions"]:
            state = "已停用" if v["retired"] else "已配置" if v["configured"] else "未配置"
            rows = "，".join(f"{label} {n}" for label, n in v["rows"].items())
            self.stdout.write(f"版本 {v['version']}：{state}；{rows}")
        for run in status["rotations"]:
            self._print_run(run)

    def do_rotate(self, wait=False, **options):
        run, created = holder_key_rotation_start()
        self.stdout.write(("已开始" if created else "已在进行") + f"：轮换 #{run.pk}")
        self._print_run(run)
        while wait and run.state == HolderKeyRotation.State.RUNNING:
            time.sleep(1)
            run.refresh_from_db()
            self._print_run(run)
        if run.state == HolderKeyRotation.State.FAILED:
            raise CommandError(f"轮换 #{run.pk} 失败：{run.last_error}")

    def do_retire(self, version: int, reason: str = "", **options):
        retirement = holder_key_retire(version=version, reason=reason)
        self.stdout.write(f"密钥版本 {retirement.version} 已停用（{retirement.retired_at:%F %T}）")
        self.stdout.write("可从 HOLDER_CODE_KEYS 中删除该版本的密钥。")

    def _print_run(self, run: HolderKeyRotation) -> None:
        self.stdout.write(
            f"#{run.pk} 至版本 {run.to_version} {run.get_state_display()}："
            f"已重新加密 {run.rewritten}/{run.total}，无法读取 {run.failed}，第 {run.passes} 遍"
            + (f"；{run.last_error}" if run.last_error else "")
        )
