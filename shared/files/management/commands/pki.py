"""`python manage.py <hub|node> pki <init|show|rotate-seal|rotate-sm2-seal|rotate-token|hsm-seal|export-ca|nssdb|trust-list>`."""

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from shared.accounts.models import Agency
from shared.audit.context import audit_via
from shared.crypto.pki import certificate_fingerprint, certificate_from_pem
from shared.files import keystore
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
        export = sub.add_parser("export-ca", help="输出根证书（PEM）")
        export.add_argument("--out", help="写入文件；省略则输出到标准输出")
        nss = sub.add_parser("nssdb", help="创建信任本库根证书的 NSS 数据库，供 pdfsig 使用")
        nss.add_argument("directory")
        trust = sub.add_parser("trust-list", help="输出签名的信任列表（JSON）")
        trust.add_argument("--out")

    def handle(self, *args, action: str, **options):
        handler = getattr(self, "do_" + action.replace("-", "_"))
        with audit_via("command"):  # the audit rows of the keys it makes say so
            handler(**options)

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
            state = "在用" if key.active else "已轮换"
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
