"""The keys an administrator sees and rotates from the console (库管理 → 印章证书).

`signing_key_list` says who sees which keys; `key_rotate` is the one write, and it calls the
same rotate services as `pki rotate-seal`, `rotate-sm2-seal` and `rotate-token`, which write
the audit row ("key.rotate", with the administrator and the reason) in the rotation's
transaction. Only the library administrator rotates: the keys are the library's (DESIGN §1:
city administrators run the node's keys); an agency administrator sees its agency's seals,
read-only, because a rotation changes what every file of the agency is signed with.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet

from shared.accounts.models import User
from shared.core.errors import ConflictError, ForbiddenError, NotFoundError, PermanentError
from shared.domain.text import check_text, is_blank
from shared.files.keystore.seals import seal_rotate, sm2_seal_rotate
from shared.files.keystore.tokens import token_key_rotate
from shared.files.models import SigningKey

Kind = SigningKey.Kind
ROTATABLE = (Kind.SEAL, Kind.SM2_SEAL, Kind.TOKEN)
SEAL_KINDS = (Kind.SEAL, Kind.SM2_SEAL)
REASON_MAX = 500


def signing_key_list(*, user: User) -> QuerySet[SigningKey]:
    """Every key of the library for its administrator; an agency administrator's agency's
    seals (both suites, retired ones too); anyone else is refused."""
    rows = SigningKey.objects.select_related("agency").defer(
        "private_key_pem", "certificate_pem", "public_key_pem", "endorsement"
    )
    if user.is_library_admin:
        return rows
    if user.is_agency_admin and user.agency_id is not None:
        return rows.filter(kind__in=SEAL_KINDS, agency_id=user.agency_id)
    raise ForbiddenError("pki.admin_required", "只有库管理员或单位管理员可以查看印章证书")


def key_rotatable(key: SigningKey) -> bool:
    """What the console offers to rotate: an active seal or token key kept in the database.
    An HSM seal is replaced by `pki hsm-seal` (a new key made in the HSM): rotating it here
    would put its successor in the database."""
    return key.active and key.kind in ROTATABLE and key.backend == SigningKey.Backend.DATABASE


@transaction.atomic
def key_rotate(*, actor: User, key_id: str, reason: str) -> SigningKey:
    """Retire the active key `key_id` and make its successor; returns the new key.

    Library administrator only; the reason is required and goes into the audit row. A key
    already retired (a second click, another administrator first) is 409, nothing rotated.
    """
    if not actor.is_library_admin:
        raise ForbiddenError("pki.rotate_forbidden", "只有库管理员可以轮换密钥")
    reason = reason.strip()
    if is_blank(reason):
        raise PermanentError("pki.reason_required", "请填写轮换原因", {"field": "reason"})
    if len(reason) > REASON_MAX:
        raise PermanentError(
            "pki.reason_too_long", f"轮换原因不能超过 {REASON_MAX} 个字", {"field": "reason"}
        )
    check_text(reason, field="reason", label="轮换原因", multiline=True)
    key = SigningKey.objects.select_for_update().filter(key_id=key_id).first()
    if key is None:
        raise NotFoundError("pki.key_not_found", "密钥不存在")
    if not key.active:
        raise ConflictError("pki.key_retired", "该密钥已停用（可能已被轮换），请刷新页面")
    if key.kind not in ROTATABLE:
        raise ConflictError(
            "pki.key_not_rotatable", "根证书与时间戳证书不在此轮换", {"kind": key.kind}
        )
    if key.backend != SigningKey.Backend.DATABASE:
        raise ConflictError(
            "pki.key_in_hsm", "硬件密码模块中的印章请用 pki hsm-seal 生成新密钥替换"
        )
    if key.kind == Kind.SEAL:
        return seal_rotate(agency=key.agency, actor=actor, reason=reason)
    if key.kind == Kind.SM2_SEAL:
        return sm2_seal_rotate(agency=key.agency, actor=actor, reason=reason)
    return token_key_rotate(actor=actor, reason=reason)
