"""`python manage.py hub partitions [--since 2019] [--ahead 1]`: the yearly partitions."""

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from provincial_hub.aggregation.partitions import AHEAD_YEARS, ensure_years, partitioned


class Command(BaseCommand):
    help = "为省级库的证照、版本、事件表按城市建立缺少的年度分区（默认：今年到明年）"

    def add_arguments(self, parser):
        parser.add_argument("--since", type=int, help="从哪一年起（默认今年）")
        parser.add_argument(
            "--ahead", type=int, default=AHEAD_YEARS, help="建到今年之后的第几年（默认 1）"
        )

    def handle(self, *args, since: int | None = None, ahead: int = AHEAD_YEARS, **options):
        if not partitioned("licenses_license"):
            raise CommandError("本库的证照表未分区（仅省级库的 PostgreSQL 分区）")
        try:
            created = ensure_years(since=since, ahead=ahead)
        except DatabaseError as exc:
            # e.g. a DEFAULT sub-partition already holds rows of such a year
            raise CommandError(f"partitions.failed: 未能建立年度分区：{exc}") from exc
        self.stdout.write(f"created={len(created)}")
        for name in created:
            self.stdout.write(name)
