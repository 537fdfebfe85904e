"""`python manage.py <tier> inspections close-window`: the beat's daily run, by hand."""

from django.core.management.base import BaseCommand

from shared.inspections.suspension import inspection_close_windows


class Command(BaseCommand):
    help = "网络年检：年检时段结束后暂扣未按期年检的证照"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        close = sub.add_parser("close-window", help="暂扣年检时段已结束而未通过年检的证照")
        close.add_argument("--limit", type=int, default=1000, help="每个证照类型最多处理的证照数")

    def handle(self, *args, action: str, **options):
        if action == "close-window":
            suspended = inspection_close_windows(limit=options["limit"])
            self.stdout.write(f"suspended={suspended}")
