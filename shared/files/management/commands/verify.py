"""`python manage.py <hub|node> verify FILE_OR_TOKEN`: verify a licence PDF or OFD, or a QR token,
offline.

Everything is checked against a trust list: `--trust-list FILE` (downloaded from
/api/v1/public/trust-list, optionally pinned with `--ca-fingerprint`), or this library's own.
For a token, the licence's status comes from the issuer's signed status list
(`--status-list FILE` for revocation, `--suspension-list FILE`), or this library's own lists.

Exit status: 0 valid; 1 for everything else — not valid, and unusable input (a missing or
unreadable file, a damaged PDF or OFD, a malformed token, a bad trust or status list). Every
failure is one Chinese line (on stderr; with `--json` a JSON object on stdout), never a
traceback: this command is what a clerk runs on a file someone handed over.
"""

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand

from shared.crypto.ofd import is_ofd
from shared.crypto.pdfverify import verify_pdf
from shared.crypto.tokens import TokenError
from shared.crypto.trustlist import TrustList, TrustListError, load_trust_list, status_from_list
from shared.domain.errors import DomainError
from shared.domain.identifiers import parse_identifier
from shared.files import trust as province_trust
from shared.files.verification import ofd_check, revocation_applied, trust_list_build

# A licence file is a page and a seal, well under this; a larger target is not one.
MAX_FILE_BYTES = 64 * 1024 * 1024
_VERIFY_URL = re.compile(r"/v/", re.IGNORECASE)
# Libraries that log a parse failure with its traceback (useful in a server's log, noise here).
_NOISY_LOGGERS = ("shared.crypto.pdfverify", "pyhanko", "pyhanko_certvalidator")


class Unusable(Exception):  # noqa: N818 - a result, not a programming error
    """Input this command cannot verify: a stable ``code`` and a Chinese ``message``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@contextmanager
def _quiet(verbosity: int) -> Iterator[None]:
    """Parse failures are reported as the result; their tracebacks only at ``-v 2``."""
    if verbosity > 1:
        yield
        return
    loggers = [logging.getLogger(name) for name in _NOISY_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


class Command(BaseCommand):
    help = "离线验证证照 PDF/OFD 文件或二维码令牌（依据签名的信任列表与状态列表）"
    # Without --trust-list: this library's list plus the provincial one, and its revocations.
    _local = True

    def add_arguments(self, parser):
        parser.add_argument("target", help="PDF 或 OFD 文件路径，或二维码令牌/网址")
        parser.add_argument("--trust-list", help="信任列表 JSON 文件；省略则使用本库的")
        parser.add_argument("--ca-fingerprint", default="", help="预置的根证书 SHA-256 指纹")
        parser.add_argument("--status-list", help="吊销类状态列表 JSON 文件（revocation）")
        parser.add_argument("--suspension-list", help="暂扣状态列表 JSON 文件（suspension）")
        parser.add_argument("--json", action="store_true", help="以 JSON 输出结果")

    def handle(self, *args, **options):
        with _quiet(int(options.get("verbosity", 1))):
            try:
                result = self._verify(options)
            except Unusable as exc:
                result = {"valid": False, "outcome": "unusable", "error": exc.code}
                result["message"] = exc.message
            except Exception as exc:  # noqa: BLE001 - any other failure is still an answer
                result = {
                    "valid": False,
                    "outcome": "unusable",
                    "error": "verify.failed",
                    "message": f"无法完成验证（{type(exc).__name__}），请确认输入是证照文件或二维码",
                }
        if options["json"]:
            self.stdout.write(json.dumps(result, ensure_ascii=False, indent=2, default=str))
        elif result.get("outcome") == "unusable":
            self.stderr.write(f"验证失败：{result['message']}")
        else:
            for key, value in result.items():
                self.stdout.write(f"{key}: {value}")
        if not result["valid"]:
            raise SystemExit(1)

    def _verify(self, options: dict[str, Any]) -> dict[str, Any]:
        target: str = options["target"]
        if not target.strip():
            raise Unusable("verify.empty", "请给出要验证的 PDF/OFD 文件路径、二维码令牌或网址")
        data = _read_target(target)
        self._local = not options["trust_list"]
        trust = self._trust(options["trust_list"], options["ca_fingerprint"])
        if data is not None:
            return self._file(data, trust)
        return self._token(target, trust, options)

    def _trust(self, path: str | None, pin: str) -> TrustList:
        if path:
            body = _read_json(path, "信任列表")
        else:
            body = trust_list_build()
        try:
            own = load_trust_list(body, ca_fingerprint=pin)
            return own if path else _with_province(own)
        except TrustListError as exc:
            raise Unusable(exc.code, f"信任列表无效：{exc.message}") from exc
        except Exception as exc:  # noqa: BLE001 - a JSON document of another shape
            raise Unusable("trust_list.malformed", "信任列表无效：信任列表格式错误") from exc

    def _file(self, data: bytes, trust: TrustList) -> dict[str, Any]:
        if is_ofd(data):
            check = ofd_check(data, trust_roots=trust.sm2_roots, now=datetime.now(UTC))
        else:
            check = verify_pdf(data, trust_roots=trust.ca_certificates)
        if self._local:  # this library's and the province's revocations
            check = revocation_applied(check)
        return {
            "valid": check.code == 0,
            "file_result": f"{check.code} {check.message}",
            "reason": check.reason,
            "identifier": check.identifier,
            "signer": check.signer,
            "signing_time": check.signing_time,
            "timestamped": check.timestamped,
            **({"seal_note": check.metadata["seal_note"]} if "seal_note" in check.metadata else {}),
        }

    def _status_token(self, option: str | None, issuer: str, purpose: str) -> str | None:
        if option:
            body = _read_json(option, "状态列表")
            token = body.get("token") if isinstance(body, dict) else None
            if not isinstance(token, str):
                raise Unusable("status_list.malformed", "状态列表文件格式错误：缺少 token")
            return token
        try:
            from shared.files.statuslists import status_list_build

            return status_list_build(issuer_code=issuer, purpose=purpose).token
        except Exception:  # noqa: BLE001 - another library's issuer: no local list
            return None

    def _token(self, target: str, trust: TrustList, options: dict) -> dict[str, Any]:
        token = target.strip()
        parts = _VERIFY_URL.split(token)
        if len(parts) > 1:
            token = parts[-1].split("?", 1)[0].split("#", 1)[0]
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
        if not _is_licence_claims(claims):
            # A trust list's or status list's signature is a token of this library too.
            raise Unusable("verify.not_a_licence_token", "该令牌签名有效，但不是证照二维码令牌")
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
                try:
                    flagged = status_from_list(list_token, trust=trust, index=index)
                except Exception as exc:  # noqa: BLE001 - forged, foreign or too short a list
                    raise Unusable(
                        "status_list.invalid",
                        f"状态列表无效或与信任列表不符（{purpose}），无法判断证照状态",
                    ) from exc
                if flagged:
                    result["valid"] = False
                    result["outcome"] = "revoked" if purpose == "revocation" else "suspended"
                result[f"{purpose}_list"] = "checked"
        return result


def _with_province(own: TrustList) -> TrustList:
    """This library's list plus every other library's keys and roots from the provincial trust
    list this library holds (verified against the hub's signature when it was fetched)."""
    others = province_trust.foreign_libraries()
    return TrustList(
        document=own.document,
        ca_certificates=own.ca_certificates + [c for lib in others for c in lib.ca_roots],
        token_keys={
            **{kid: key for lib in others for kid, key in lib.token_keys.items()},
            **own.token_keys,
        },
        sm2_roots=own.sm2_roots + [r for lib in others for r in lib.sm2_roots],
    )


def _is_licence_claims(claims: dict[str, Any]) -> bool:
    if not isinstance(claims.get("exp"), int | float) or not isinstance(claims.get("id"), str):
        return False
    try:
        parse_identifier(claims["id"])
    except DomainError:
        return False
    return True


def _read_target(target: str) -> bytes | None:
    """The file's bytes when ``target`` names a file; None when it is a token or URL.

    A long token is not a path (``Path.exists`` would raise "File name too long"); a name that
    ends in .pdf / .ofd but is not there is a missing file, not a malformed token."""
    path = Path(target)
    try:
        is_file, is_dir = path.is_file(), path.is_dir()
    except (OSError, ValueError):  # too long a name, a NUL byte: not a path
        is_file = is_dir = False
    if is_dir:
        raise Unusable("verify.not_a_file", f"“{target}”是目录，请给出 PDF 或 OFD 文件")
    if not is_file:
        if target.lower().endswith((".pdf", ".ofd")):
            raise Unusable("verify.file_not_found", f"文件不存在：{target}")
        return None
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise Unusable(
                "verify.file_too_large",
                f"文件过大（超过 {MAX_FILE_BYTES // (1024 * 1024)} MB），不是证照文件",
            )
        return path.read_bytes()
    except OSError as exc:
        raise Unusable(
            "verify.file_unreadable", f"无法读取文件：{target}（{exc.strerror}）"
        ) from exc


def _read_json(path: str, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise Unusable("verify.file_not_found", f"{what}文件不存在：{path}") from exc
    except (OSError, ValueError) as exc:  # unreadable, not UTF-8, not JSON
        raise Unusable("verify.json_invalid", f"{what}文件不是有效的 JSON：{path}") from exc
