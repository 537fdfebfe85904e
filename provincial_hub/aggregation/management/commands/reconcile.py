"""`python manage.py hub reconcile --node 410100 [--history suspect|all]`."""

from django.core.management.base import BaseCommand, CommandError

from shared.core.errors import ApplicationError
from shared.federation.reconciliation import reconcile_run, repairs_summary


class Command(BaseCommand):
    help = (
        "与市级节点双向对账（证照上行与下行、证照目录、文件）：按桶比较摘要，由签发方修复并记录方向"
    )

    def add_arguments(self, parser):
        parser.add_argument("--node", help="要对账的市级节点代码")
        parser.add_argument(
            "--history",
            choices=["suspect", "all"],
            default="",
            help="同时核对证照事件与版本：suspect 仅重发事件/版本超出证照记录的证照，"
            "all 重发该节点的全部证照（一次性清理）",
        )

    def handle(self, *args, node: str | None = None, history: str = "", **options):
        if not node:
            raise CommandError("请用 --node 指定市级节点代码")
        try:
            run = reconcile_run(peer_code=node, trigger="manual", history=history)
        except ApplicationError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        self.stdout.write(
            f"scope={run.scope} buckets={run.buckets_compared} round_trips={run.round_trips} "
            f"differences={run.differences} missing_at_hub={run.missing_at_hub} "
            f"stale_at_hub={run.stale_at_hub} only_at_hub={run.only_at_hub} "
            f"repaired={run.repaired} duration_ms={run.duration_ms}"
        )
        if run.repairs:  # what was repaired, by kind.direction.action (up: at the hub)
            self.stdout.write(repairs_summary(run))
