"""`python manage.py hub compliance <evaluate|escalate|demo>`."""

import json
import time
from datetime import date
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from provincial_hub.compliance.demo import seed_compliance_demo
from provincial_hub.compliance.evaluation import compliance_evaluate
from provincial_hub.compliance.services import notice_escalate_due
from shared.core.errors import ApplicationError


def _day(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"日期格式应为 YYYY-MM-DD：{value}") from exc


def _issuer_of(path: str, wait_seconds: float) -> str:
    """The issuer's agency code in a city's demo credentials, which its own seeding is writing
    (`make demo` seeds the libraries side by side)."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return str(json.loads(Path(path).read_text(encoding="utf-8"))["issuer"]["agency_code"])
        except (OSError, ValueError, KeyError):
            if time.monotonic() >= deadline:
                raise CommandError(f"演示凭据文件不可用：{path}") from None
            time.sleep(0.5)


class Command(BaseCommand):
    help = "合规考核：按规则考核各单位与各市并下发整改通知；逾期未整改的予以通报批评"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        evaluate = sub.add_parser("evaluate", help="按规则考核（与每日定时任务相同，可重复执行）")
        evaluate.add_argument("--date", help="考核日（YYYY-MM-DD），缺省为今天")
        escalate = sub.add_parser("escalate", help="把整改期限已过、未答复的通知通报批评")
        escalate.add_argument("--date", help="以该日为今天（YYYY-MM-DD），缺省为今天")
        demo = sub.add_parser("demo", help="写入演示用的整改通知（一条已通报批评，一条待整改）")
        who = demo.add_mutually_exclusive_group(required=True)
        who.add_argument("--agency", help="待整改通知的市级单位代码")
        who.add_argument("--credentials", help="或：该市的演示凭据文件（签发单位；等待其写入）")
        demo.add_argument("--wait", type=float, default=90, help="等待该单位汇聚到省级库的秒数")

    def handle(self, *args, action: str, **options):
        try:
            if action == "evaluate":
                run = compliance_evaluate(day=_day(options["date"]), trigger="manual")
                self.stdout.write(
                    f"day={run.day} breaches={run.breaches} notices={run.notices_created}"
                )
            elif action == "escalate":
                count = notice_escalate_due(today=_day(options["date"]))
                self.stdout.write(f"escalated={count}")
            else:
                code = options["agency"] or _issuer_of(options["credentials"], options["wait"])
                result = seed_compliance_demo(city_agency_code=code, wait_seconds=options["wait"])
                self.stdout.write(json.dumps(result, ensure_ascii=False))
        except ApplicationError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
