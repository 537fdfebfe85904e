from django.core.management.base import BaseCommand

from shared.access.dbroles import append_only_grants_sql


class Command(BaseCommand):
    help = "打印使用证记录对应用数据库角色只可追加的 SQL（由表的所有者执行）"

    def add_arguments(self, parser):
        parser.add_argument("role", help="应用连接数据库所用的角色名")

    def handle(self, *args, role: str, **options):
        self.stdout.write(append_only_grants_sql(role))
