"""`python manage.py <hub|node> verify FILE_OR_TOKEN`: verify a licence PDF or OFD, or a QR token,
offline.

Everything is checked against a trust list: `--trust-list FILE` (downloaded from
/api/v1/public/trust-list, optionally pinned with `--ca-fingerprint`), or this library's own.
For a token, the licence's status comes from the issuer's signed status list
(`--status-list FILE` for revocation, `--suspension-list FILE`), or this library's own lists.
Exit status: 0 valid, 1 not valid, 2 unusable input.
"""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from shared.crypto.ofd import is_ofd, ofd_verify
from shared.crypto.pdfverify import verify_pdf
from shared.crypto.tokens import TokenError
from shared.crypto.trustlist import TrustList, TrustListError, load_trust_list, status_from_list


class Command(BaseCommand):
    help = "离线验证证照 PDF/OFD 文件或二维码令牌（依据签名的信任列表与状态列表）"

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("target", help="PDF 或 OFD 文件路径，或二维码令牌/网址")
        parser.add_argument("--trust-list", help="信任列表 JSON 文件；省略则使用本库的")
        parser.add_argument("--ca-fingerprint", default="", help="预置的根证书 SHA-256 指纹")
        parser.add_argument("--status-list", help="吊销类状态列表 JSON 文件（revocation）")
        parser.add_argument("--suspension-list", help="暂扣状态列表 JSON 文件（suspension）")
        parser.add_argument("--json", action="store_true", help="以 JSON 输出结果")

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        trust = self._trust(options["trust_list"], options["ca_fingerprint"])
        target: str = options["target"]
        path = Path(target)
        if path.exists():
            result = self._file(path.read_bytes(), trust)
        else:
            result = self._token(target, trust, options)
        if options["json"]:
            self.stdout.write(json.dumps(result, ensure_ascii=False, indent=2, default=str))
        else:
            for key, value in result.items():
                self.stdout.write(f"{key}: {value}")
        if not result["valid"]:
            raise SystemExit(1)

    def _trust(self, path: str | None, pin: str) -> TrustList:
        if path:
            body = json.loads(Path(path).read_text(encoding="utf-8"))
        else:
            from shared.files.verification import trust_list_build

            body = trust_list_build()
        try:
            return load_trust_list(body, ca_fingerprint=pin)
        except TrustListError as exc:
            raise CommandError(f"信任列表无效：{exc.message}") from exc

    def _file(self, data: bytes, trust: TrustList) -> dict[str, Any]:
        if is_ofd(data):
            check = ofd_verify(data, trust_roots=trust.sm2_roots, now=datetime.now(UTC))
        else:
            check = verify_pdf(data, trust_roots=trust.ca_certificates)
        return {
            "valid": check.code == 0,
            "file_result": f"{check.code} {check.message}",
            "reason": check.reason,
            "identifier": check.identifier,
            "signer": check.signer,
            "signing_time": check.signing_time,
            "timestamped": check.timestamped,
        }

    def _status_token(self, option: str | None, issuer: str, purpose: str) -> str | None:
        if option:
            return json.loads(Path(option).read_text(encoding="utf-8"))["token"]
        try:
            from shared.files.statuslists import status_list_build

            return status_list_build(issuer_code=issuer, purpose=purpose).token
        except Exception:  # noqa: BLE001 - another library's issuer: no local list
            return None

    def _token(self, target: str, trust: TrustList, options: dict) -> dict[str, Any]:
        token = target.rsplit("/v/", 1)[1].split("?", 1)[0] if "/v/" in target else target
        try:
            verified = trust.verify_token(token, now=datetime.now(UTC))
        except TokenError as exc:
            outcome = "qr_expired" if exc.code == "token.expired" else "forged"
            return {
                "valid": False,
                "outcome": outcome,
                "token_error": exc.code,
                "message": exc.message,
            }
        claims = verified.claims
        result: dict[str, Any] = {
            "valid": True,
            "outcome": "valid",
            "identifier": claims.get("id"),
            "version": claims.get("ver"),
            "issuer": claims.get("iss"),
            "expires_at": datetime.fromtimestamp(claims["exp"], UTC).isoformat(),
        }
        index = claims.get("sli")
        if isinstance(index, int):
            for purpose, option in (
                ("revocation", "status_list"),
                ("suspension", "suspension_list"),
            ):
                list_token = self._status_token(
                    options.get(option), str(claims.get("iss")), purpose
                )
                if list_token is None:
                    result[f"{purpose}_list"] = "unavailable"
                    continue
                if status_from_list(list_token, trust=trust, index=index):
                    result["valid"] = False
                    result["outcome"] = "revoked" if purpose == "revocation" else "suspended"
                result[f"{purpose}_list"] = "checked"
        return result
