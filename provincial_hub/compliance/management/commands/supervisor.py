"""`python manage.py hub supervisor create --username … [--display-name …] [--password …]
[--token]`: the provincial management unit's users (省发改委, art. 6, 31). The API never creates
one (a library administrator's or agency administrator's form offers staff roles only)."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from shared.accounts import services as accounts
from shared.accounts.models import User
from shared.core.errors import ApplicationError


class Command(BaseCommand):
    help = "省级监管人员：可查看监管所需信息、下发与验收整改通知，不能签发、变更或查询证照"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="创建监管人员账户")
        create.add_argument("--username", required=True)
        create.add_argument("--display-name", default="", help="姓名")
        create.add_argument("--password", default="", help="登录口令；缺省不可用口令登录")
        create.add_argument(
            "--token", action="store_true", help="同时签发 API 令牌并输出（仅此一次）"
        )
        sub.add_parser("list", help="列出监管人员")

    def handle(self, *args, action: str, **options):
        if action == "list":
            for user in User.objects.filter(role=User.Role.SUPERVISOR).order_by("username"):
                self.stdout.write(f"{user.username}\t{user.display_name}\t{user.is_active}")
            return
        try:
            with transaction.atomic():
                user = accounts.user_create(
                    actor=None,
                    agency=None,
                    username=options["username"],
                    password=options["password"] or None,
                    role=User.Role.SUPERVISOR,
                    display_name=options["display_name"],
                )
                secret = ""
                if options["token"]:
                    _, secret = accounts.token_issue(actor=None, user=user, name="supervisor")
        except ApplicationError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        self.stdout.write(f"已创建监管人员 {user.username}")
        if secret:
            self.stdout.write(f"token={secret}")
