"""`python manage.py <hub|node> pki <init|show|rotate-seal|rotate-sm2-seal|rotate-token|hsm-seal|revoke-seal|export-ca|nssdb|trust-list|provincial-trust>`."""

import json
import shutil
import subprocess
import tempfile
from datetime import datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from shared.accounts.models import Agency
from shared.audit.context import audit_via
from shared.core.errors import ApplicationError
from shared.crypto.pki import certificate_fingerprint, certificate_from_pem
from shared.files import keystore, trust
from shared.files.models import SigningKey
from shared.files.verification import trust_list_build


class Command(BaseCommand):
    help = "证书体系：初始化根 CA、轮换电子印章与令牌密钥、导出根证书与信任列表"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("init", help="创建根 CA、令牌密钥和本库印章（可重复执行）")
        sub.add_parser("show", help="列出密钥与证书")
        seal = sub.add_parser("rotate-seal", help="轮换单位的电子印章（旧印章签的文件仍可验证）")
        seal.add_argument("--agency", help="单位统一社会信用代码；省略则为本库印章")
        sm2 = sub.add_parser("rotate-sm2-seal", help="轮换单位的 SM2 电子印章（OFD，GB/T 38540）")
        sm2.add_argument("--agency", help="单位统一社会信用代码；省略则为本库印章")
        sub.add_parser("rotate-token", help="轮换二维码与信任列表签名密钥")
        hsm = sub.add_parser("hsm-seal", help="在 PKCS#11 硬件模块中生成单位印章密钥并签发证书")
        hsm.add_argument("--agency", help="单位统一社会信用代码；省略则为本库印章")
        hsm.add_argument("--label", required=True, help="密钥在令牌中的标签")
        revoke = sub.add_parser(
            "revoke-seal",
            help="吊销电子印章证书：吊销时间及以后签章的文件验证失败并说明原因，之前的仍有效",
        )
        which = revoke.add_mutually_exclusive_group(required=True)
        which.add_argument("--key-id", help="印章密钥标识（pki show 列出）")
        which.add_argument("--agency", help="吊销该单位在用的印章（统一社会信用代码）")
        revoke.add_argument("--sm2", action="store_true", help="与 --agency 合用：SM2 印章（OFD）")
        revoke.add_argument("--reason", required=True, help="吊销原因（不超过 200 字）")
        revoke.add_argument(
            "--since", help="吊销生效时间（ISO 8601，如私钥泄露的时间）；省略则为现在"
        )
        province = sub.add_parser("provincial-trust", help="显示本库持有的全省信任列表")
        province.add_argument(
            "--refresh", action="store_true", help="先刷新（市级：从省级库获取；省级：重新发布）"
        )
        export = sub.add_parser("export-ca", help="输出根证书（PEM）")
        export.add_argument("--out", help="写入文件；省略则输出到标准输出")
        nss = sub.add_parser("nssdb", help="创建信任本库根证书的 NSS 数据库，供 pdfsig 使用")
        nss.add_argument("directory")
        trust = sub.add_parser("trust-list", help="输出签名的信任列表（JSON）")
        trust.add_argument("--out")

    def handle(self, *args, action: str, **options):
        handler = getattr(self, "do_" + action.replace("-", "_"))
        with audit_via("command"):  # the audit rows of the keys it makes say so
            try:
                handler(**options)
            except ApplicationError as exc:
                raise CommandError(f"{exc.message}（{exc.code}）") from exc

    def _agency(self, code: str | None) -> Agency | None:
        if not code:
            return None
        agency = Agency.objects.filter(code=code).first()
        if agency is None:
            raise CommandError(f"单位不存在：{code}")
        return agency

    def do_init(self, **options):
        keys = keystore.pki_init()
        ca = certificate_from_pem(keys["ca"].certificate_pem)
        self.stdout.write(f"根 CA：{keys['ca'].subject}")
        self.stdout.write(f"根证书 SHA-256 指纹：{certificate_fingerprint(ca)}")
        self.stdout.write(f"令牌密钥：{keys['token'].key_id}（{keys['token'].suite}）")
        self.stdout.write(f"本库印章：{keys['seal'].subject}")
        self.stdout.write(f"SM2 根 CA（OFD 电子印章）：{keys['sm2_ca'].subject}")

    def do_show(self, **options):
        for key in SigningKey.objects.select_related("agency").order_by("kind", "created_at"):
            state = "已吊销" if key.revoked_at else "在用" if key.active else "已轮换"
            self.stdout.write(
                f"{key.kind:6} {state:4} {key.backend:6} {key.key_id[:16]} {key.subject}"
            )

    def do_rotate_seal(self, agency=None, **options):
        key = keystore.seal_rotate(agency=self._agency(agency))
        self.stdout.write(f"新印章：{key.subject} {key.key_id}")

    def do_rotate_sm2_seal(self, agency=None, **options):
        key = keystore.sm2_seal_rotate(agency=self._agency(agency))
        self.stdout.write(f"新 SM2 印章：{key.subject} {key.key_id}")

    def do_rotate_token(self, **options):
        key = keystore.token_key_rotate()
        self.stdout.write(f"新令牌密钥：{key.key_id}（{key.suite}）")

    def do_hsm_seal(self, agency=None, label="", **options):
        key = keystore.seal_create_pkcs11(agency=self._agency(agency), label=label)
        self.stdout.write(f"硬件模块印章：{key.subject} 标签 {key.pkcs11_label}")

    def do_revoke_seal(self, key_id=None, agency=None, sm2=False, reason="", since=None, **options):
        if key_id is None:
            suite = keystore.SM2 if sm2 else keystore.ECDSA
            active = SigningKey.objects.filter(
                kind=suite.kind, agency=self._agency(agency), active=True
            ).first()
            if active is None:
                raise CommandError("该单位没有在用的印章")
            key_id = active.key_id
        when = None
        if since:
            try:
                when = datetime.fromisoformat(since)
            except ValueError as exc:
                raise CommandError(f"吊销时间格式错误：{since}") from exc
            if when.utcoffset() is None:
                when = timezone.make_aware(when)
        key = keystore.seal_revoke(key_id=key_id, reason=reason, revoked_at=when)
        self.stdout.write(
            f"已吊销：{key.subject} {key.key_id} 自 {key.revoked_at.isoformat()}，原因：{reason}"
        )

    def do_provincial_trust(self, refresh=False, **options):
        if refresh and not trust.trust_refresh_now():
            raise CommandError("本库没有全省信任列表的来源")
        row = trust.trust_list_row()
        if row is None or not row.version:
            self.stdout.write("尚未持有全省信任列表")
            return
        self.stdout.write(f"全省信任列表 v{row.version}，签发于 {row.issued_at}")
        for entry in row.document.get("libraries", []):
            self.stdout.write(
                f"{entry.get('library')} {entry.get('library_name')}："
                f"令牌密钥 {len(entry.get('token_keys', []))}，"
                f"印章证书 {len(entry.get('seals', []))}，"
                f"吊销 {len(entry.get('revocations', []))}"
            )

    def do_export_ca(self, out=None, **options):
        keystore.pki_init()
        pem = "".join(k.certificate_pem for k in SigningKey.objects.filter(kind=SigningKey.Kind.CA))
        if out:
            Path(out).write_text(pem)
            self.stdout.write(f"根证书已写入 {out}")
        else:
            self.stdout.write(pem)

    def do_nssdb(self, directory: str, **options):
        certutil = shutil.which("certutil")
        if certutil is None:
            raise CommandError("缺少 certutil，请运行 deploy/system-packages.sh")
        keystore.pki_init()
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / "cert9.db").exists():
            subprocess.run(  # noqa: S603
                [certutil, "-N", "-d", f"sql:{folder}", "--empty-password"], check=True
            )
        for i, key in enumerate(SigningKey.objects.filter(kind=SigningKey.Kind.CA)):
            with tempfile.NamedTemporaryFile("w", suffix=".pem") as pem:
                pem.write(key.certificate_pem)
                pem.flush()
                subprocess.run(  # noqa: S603
                    [
                        certutil,
                        "-A",
                        "-d",
                        f"sql:{folder}",
                        "-n",
                        f"elicense-ca-{i}-{key.key_id[:8]}",
                        "-t",
                        "CT,C,C",
                        "-i",
                        pem.name,
                    ],
                    check=True,
                )
        self.stdout.write(f"NSS 数据库：sql:{folder}（pdfsig -nssdir sql:{folder} FILE.pdf）")

    def do_trust_list(self, out=None, **options):
        text = json.dumps(trust_list_build(), ensure_ascii=False, indent=2)
        if out:
            Path(out).write_text(text, encoding="utf-8")
            self.stdout.write(f"信任列表已写入 {out}")
        else:
            self.stdout.write(text)
