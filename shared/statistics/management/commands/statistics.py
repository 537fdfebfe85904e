"""`python manage.py <tier> statistics <rollup|status>`: bring the supervision statistics up
to date now (beat does it every minute) and show how far each source has been read."""

import time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from shared.statistics.models import Watermark
from shared.statistics.rollup import statistics_rollup
from shared.statistics.sources import source_names


class Command(BaseCommand):
    help = "监管统计：立即增量汇总（rollup）或查看各数据来源的汇总水位（status）"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        run = sub.add_parser("rollup", help="把各数据来源自上次水位以来的新记录计入月度计数")
        run.add_argument("--source", action="append", default=None, help="只汇总该来源（可重复）")
        run.add_argument("--batch-size", type=int, default=20000)
        sub.add_parser("status", help="各数据来源的水位与最近一次汇总时间")

    def handle(self, *args, action: str, **options):
        if action == "rollup":
            known = source_names()
            wanted = options["source"] or known
            unknown = sorted(set(wanted) - set(known))
            if unknown:
                raise CommandError(
                    f"未知的数据来源：{', '.join(unknown)}；可选：{', '.join(known)}"
                )
            started = time.monotonic()
            read = statistics_rollup(sources=wanted, batch_size=max(1, options["batch_size"]))
            elapsed = time.monotonic() - started
            for name, count in read.items():
                self.stdout.write(f"{name}\tread={count}")
            self.stdout.write(f"elapsed={elapsed:.2f}s")
        else:
            for mark in Watermark.objects.all():
                run_at = timezone.localtime(mark.run_at).isoformat() if mark.run_at else "-"
                position = mark.last_key or (mark.last_time.isoformat() if mark.last_time else 0)
                self.stdout.write(
                    f"{mark.source}\tat={position}\tgaps={len(mark.gaps)}"
                    f"\trows_read={mark.rows_read}\trun_at={run_at}"
                )
