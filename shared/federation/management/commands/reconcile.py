"""`python manage.py hub reconcile --node 410100` (or `node reconcile` against the hub)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from shared.core.errors import ApplicationError
from shared.federation.reconciliation import reconcile_run


class Command(BaseCommand):
    help = "与对端对账：按桶比较摘要，只下钻到有差异的桶，修复并记录"

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--node", help="（省级枢纽）要对账的市级节点代码")

    def handle(self, *args, node: str | None = None, **options):  # type: ignore[no-untyped-def]
        if settings.LIBRARY_TIER == "hub":
            if not node:
                raise CommandError("请用 --node 指定市级节点代码")
            peer = node
        else:
            peer = settings.FEDERATION_HUB_CODE
        try:
            run = reconcile_run(peer_code=peer, trigger="manual")
        except ApplicationError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        self.stdout.write(
            f"scope={run.scope} buckets={run.buckets_compared} round_trips={run.round_trips} "
            f"differences={run.differences} missing_at_hub={run.missing_at_hub} "
            f"stale_at_hub={run.stale_at_hub} only_at_hub={run.only_at_hub} "
            f"repaired={run.repaired} duration_ms={run.duration_ms}"
        )
