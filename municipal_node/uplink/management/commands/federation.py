"""`python manage.py node federation …`: the shared actions plus the node's `announce-files`,
`send-trust-keys` and `rotate-log-key`.

Django takes a command from the first installed app that has it, and the node's settings list
`municipal_node.uplink` before the shared apps, so this command replaces the shared one here."""

from municipal_node.uplink import files, trust
from shared.audit.context import audit_via
from shared.federation import rotation
from shared.federation.management.commands import federation as shared_federation


class Command(shared_federation.Command):
    def add_tier_actions(self, sub) -> None:
        announce = sub.add_parser("announce-files", help="向省级库通告本库已生成的签章文件（补发）")
        announce.add_argument("--all", action="store_true", help="含已通告过的文件，全部重发")
        sub.add_parser(
            "send-trust-keys",
            help="向省级库报送本库的信任材料（令牌密钥、印章证书、吊销；有变化才发）",
        )
        sub.add_parser(
            "rotate-log-key", help="轮换本库访问日志签名密钥并向省级库公告（由旧密钥证明）"
        )

    def handle(self, *args, action: str, **options):
        if action == "send-trust-keys":
            sent = trust.trust_keys_forward()
            self.stdout.write(
                "已写入信任材料（trust.keys），将随交换流发往省级库" if sent else "信任材料无变化"
            )
            return None
        if action == "rotate-log-key":
            with audit_via("command"):
                row = rotation.log_key_rotate()
            self.stdout.write(f"purpose={row.purpose} old_kid={row.old_kid} new_kid={row.new_kid}")
            return None
        if action != "announce-files":
            return super().handle(*args, action=action, **options)
        count = files.files_announce(only_new=not options["all"])
        self.stdout.write(f"已写入 {count} 条文件通告（file.ready），将随交换流发往省级库")
        return None
