"""`python manage.py <tier> federation <keygen|export-key|add-peer|peers|relay|resume|status|
envelope|rotate-key|activate-key|retire-key|key-status|after-restore>` (a node's `announce-files` and
`rotate-log-key` are `municipal_node.uplink`'s command)."""

import json
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from shared.audit.context import audit_via
from shared.core.errors import ApplicationError
from shared.federation import keys, relay, restore, rotation, selectors
from shared.federation.models import KeyRotation, Peer, PeerKey


class Command(BaseCommand):
    help = "交换密钥与对端登记、手动投递与状态查看"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("keygen", help="生成本库交换密钥（已有则沿用）")
        export = sub.add_parser("export-key", help="导出本库公钥与代码（JSON）")
        export.add_argument("--out", help="写入文件；缺省输出到标准输出")
        export.add_argument("--url", default="", help="本库对外地址，一并写入")
        add = sub.add_parser("add-peer", help="登记对端（由对端 export-key 的 JSON）")
        add.add_argument("--file", required=True)
        add.add_argument("--url", help="对端地址（覆盖 JSON 中的 url）")
        add.add_argument("--adapter", default="", choices=["", "http", "amqp"])
        sub.add_parser("peers", help="列出已登记的对端")
        run = sub.add_parser("relay", help="立即投递某个流")
        run.add_argument("--stream", required=True)
        resume = sub.add_parser("resume", help="向接收方查询高水位并从该处续传")
        resume.add_argument("--stream", required=True)
        sub.add_parser("status", help="各交换流的投递状态")
        env = sub.add_parser("envelope", help="把外发事件封装成签名信封输出（排障与演练用）")
        env.add_argument("--stream", required=True)
        env.add_argument("--from-seq", type=int, required=True)
        env.add_argument("--to-seq", type=int, required=True)
        rotate = sub.add_parser(
            "rotate-key", help="轮换本库交换密钥：生成新密钥并经交换流公告（由旧密钥签名）"
        )
        rotate.add_argument(
            "--overlap",
            type=int,
            default=None,
            help="一并完成：等待对端确认后启用新密钥，过渡期（秒）后退役旧密钥",
        )
        rotate.add_argument("--timeout", type=int, default=300, help="等待确认的最长秒数")
        sub.add_parser("activate-key", help="对端均已确认公告后，改用新交换密钥签名")
        sub.add_parser("retire-key", help="结束过渡期：通知对端旧交换密钥退役")
        sub.add_parser("key-status", help="本库密钥轮换与对端密钥状态")
        after = sub.add_parser(
            "after-restore",
            help="从备份恢复后：按对端高水位校正外发序号并放行投递，取回对端所存而本库丢失的记录",
        )
        after.add_argument("--no-recover", action="store_true", help="只校正序号，不取回记录")
        self.add_tier_actions(sub)

    def add_tier_actions(self, sub) -> None:
        """A tier's own actions: its app's `federation` command overrides this and `handle`."""

    def handle(self, *args, action: str, **options):
        with audit_via("command"):  # the audit rows of what it changes say so
            try:
                self.run(action, **options)
            except ApplicationError as exc:
                if not action.endswith("-key"):
                    raise
                raise CommandError(f"{exc.code}: {exc.message} {exc.detail or ''}") from exc

    def rotation_show(self, row: KeyRotation) -> None:
        self.stdout.write(
            f"purpose={row.purpose} old_kid={row.old_kid} new_kid={row.new_kid} state={row.state}"
        )

    def rotate_through(self, *, overlap: int, timeout: int) -> None:
        """The whole exchange-key rotation: announce, wait for every acknowledgement (the
        relay delivers), activate, keep the overlap, retire."""
        self.rotation_show(rotation.exchange_key_rotate())
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.rotation_show(rotation.exchange_key_activate())
                break
            except ApplicationError as exc:
                if exc.code != "federation.rotation_unacknowledged":
                    raise
                if time.monotonic() > deadline:
                    raise CommandError(
                        "对端在限定时间内未确认新密钥公告；稍后执行 activate-key"
                    ) from exc
                time.sleep(1)
        time.sleep(overlap)
        self.rotation_show(rotation.exchange_key_retire())

    def add_peer(self, *, file: str, url: str | None, adapter: str) -> None:
        """Register a peer from the JSON its `export-key` wrote; `url` overrides the file's."""
        try:
            data = json.loads(Path(file).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CommandError(f"无法读取对端密钥文件：{exc}") from exc
        peer = keys.peer_register(
            code=data["code"],
            kid=data["kid"],
            public_key_pem=data["public_key_pem"],
            base_url=url or data.get("url", ""),
            name=data.get("name", ""),
            adapter=adapter,
        )
        self.stdout.write(f"已登记对端 {peer.code} {peer.name} {peer.base_url}")

    def key_status(self) -> None:
        """This library's signing key, its rotations, and each peer's keys (the peer's
        registered key when no rotation of it was ever announced here)."""
        kid, _ = keys.signing_key()
        self.stdout.write(f"local kid={kid} state=current")
        for own in KeyRotation.objects.all()[:20]:
            self.rotation_show(own)
        announced = set()
        for peer_key in PeerKey.objects.all():
            announced.add(peer_key.peer_code)
            self.stdout.write(
                f"peer={peer_key.peer_code} purpose={peer_key.purpose} "
                f"kid={peer_key.kid} state={peer_key.state}"
            )
        for peer in Peer.objects.exclude(code__in=announced).order_by("code"):
            self.stdout.write(f"peer={peer.code} purpose=exchange kid={peer.kid} state=current")

    def after_restore(self, *, recover: bool) -> None:
        """One line per stream and one for the recovery (JSON); fails while a stream is held."""
        report = restore.after_restore(recover=recover)
        for stream in report["streams"]:
            self.stdout.write(json.dumps(stream, ensure_ascii=False))
        self.stdout.write(json.dumps({"recovered": report["recovered"]}, ensure_ascii=False))
        failed = [s["stream"] for s in report["streams"] if s["error"]]
        if failed or "error" in report["recovered"]:
            raise CommandError(
                f"restore.incomplete: 未完成（对端不可达或取回失败：{failed or report['recovered']}），"
                "请稍后再次执行 federation after-restore"
            )

    def run(self, action: str, **options) -> None:
        if action == "keygen":
            key = keys.local_key_ensure()
            self.stdout.write(f"kid={key.kid} suite={key.suite}")
        elif action == "export-key":
            data = keys.export_public() | {"url": options["url"]}
            text = json.dumps(data, ensure_ascii=False, indent=2)
            if options["out"]:
                Path(options["out"]).write_text(text + "\n", encoding="utf-8")
            else:
                self.stdout.write(text)
        elif action == "add-peer":
            self.add_peer(file=options["file"], url=options.get("url"), adapter=options["adapter"])
        elif action == "peers":
            for peer in Peer.objects.all():
                self.stdout.write(
                    f"{peer.code}\t{peer.name}\t{peer.base_url}\t{peer.adapter or '-'}"
                )
        elif action == "relay":
            result = relay.relay_stream(stream=options["stream"])
            self.stdout.write(
                f"sent={result.sent} acknowledged={result.acknowledged} error={result.error or '-'}"
            )
        elif action == "resume":
            mark = relay.resume_from_receiver(stream=options["stream"])
            self.stdout.write(f"high_water_mark={mark}")
        elif action == "status":
            for row in selectors.outbox_summary():
                self.stdout.write(json.dumps(row, ensure_ascii=False))
        elif action == "rotate-key":
            if options["overlap"] is None:
                self.rotation_show(rotation.exchange_key_rotate())
            else:
                self.rotate_through(overlap=options["overlap"], timeout=options["timeout"])
        elif action == "activate-key":
            self.rotation_show(rotation.exchange_key_activate())
        elif action == "retire-key":
            self.rotation_show(rotation.exchange_key_retire())
        elif action == "key-status":
            self.key_status()
        elif action == "after-restore":
            self.after_restore(recover=not options["no_recover"])
        elif action == "envelope":
            envelope = relay.envelope_for(
                stream=options["stream"], first=options["from_seq"], last=options["to_seq"]
            )
            self.stdout.write(json.dumps(envelope, ensure_ascii=False))
