"""`python manage.py node reconcile`: compare this city's licences with the hub's copy."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from shared.core.errors import ApplicationError
from shared.federation.reconciliation import reconcile_run, repairs_summary


class Command(BaseCommand):
    help = "与省级库对账：按桶比较摘要，只下钻到有差异的桶，修复并记录"

    def handle(self, *args, **options):
        try:
            run = reconcile_run(peer_code=settings.FEDERATION_HUB_CODE, trigger="manual")
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
