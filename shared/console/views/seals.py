"""库管理 → 印章证书: every signing key the library holds (the agency administrator: its
agency's seals), with its certificate's validity, and 轮换 behind a confirmation that takes
the reason. Reads and the write are `shared.files.keystore` (`signing_key_list`,
`key_rotate`, which calls the same rotate services as the `pki` command)."""

from dataclasses import dataclass
from datetime import datetime

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from shared.accounts.requests import AuthenticatedHttpRequest
from shared.console import roles
from shared.console.helpers import Refusal
from shared.console.views.reviews_inbox import refusal_status
from shared.files import keystore
from shared.files.models import SigningKey

SOON_DAYS = 30  # a certificate this close to its end is shown amber


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyRow:
    key: SigningKey
    days_left: int | None  # None: no end date
    health: str  # "ok", "soon" (≤ SOON_DAYS), "expired"
    rotatable: bool


def _row(key: SigningKey, now: datetime) -> KeyRow:
    days_left, health = None, "ok"
    if key.not_after is not None:
        days_left = (key.not_after - now).days
        if key.not_after <= now:
            health = "expired"
        elif days_left <= SOON_DAYS:
            health = "soon"
    return KeyRow(
        key=key, days_left=days_left, health=health, rotatable=keystore.key_rotatable(key)
    )


@roles.console_view(roles.manages_staff)
def seals(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Active keys first (by kind, agency), then the retired ones: they still verify old files."""
    now = timezone.now()
    keys = keystore.signing_key_list(user=request.user).order_by(
        "-active", "kind", "agency__name", "-created_at"
    )
    rows = [_row(key, now) for key in keys]
    context = {
        "active": [r for r in rows if r.key.active],
        "retired": [r for r in rows if not r.key.active],
        "can_rotate": request.user.is_library_admin,
        "soon_days": SOON_DAYS,
    }
    return render(request, "console/admin/seals.html", context)


@roles.console_view(roles.library_admin)
def seal_rotate(request: AuthenticatedHttpRequest, key_id: str) -> HttpResponse:
    """GET: what will be rotated and the reason box; POST: rotate (`keystore.key_rotate`)."""
    key = keystore.signing_key_list(user=request.user).filter(key_id=key_id).first()
    if key is None:
        raise Http404("密钥不存在")
    error, status, reason = "", 200, request.POST.get("reason", "")
    if request.method == "POST":
        try:
            new = keystore.key_rotate(actor=request.user, key_id=key.key_id, reason=reason)
        except Refusal as exc:
            error, status = exc.message, refusal_status(exc)
        else:
            messages.success(
                request,
                f"已轮换：{new.get_kind_display()}，新证书序列号 {new.serial_hex or new.key_id}",
            )
            return redirect("console-seals")
    context = {"row": _row(key, timezone.now()), "error": error, "reason": reason}
    return render(request, "console/admin/seal_rotate.html", context, status=status)
