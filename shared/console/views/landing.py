"""The landing page at `/` of every tier (issue #15 item 7): what this library is, where each
role signs in, and the public QR verifier. In the demo only (DEMO_CREDENTIALS_FILE, which
deploy/demo.py sets and production refuses) it lists the demo accounts: names and roles,
never a password or token."""

import json
import re
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from shared.accounts.models import User
from shared.core.tier import is_hub

# The token after /v/ or /V/ in a pasted URL, or the whole text when it is a bare token.
_TOKEN_IN_URL = re.compile(r"/v/([^/?#\s]+)", re.IGNORECASE)
_BARE_TOKEN = re.compile(r"[A-Za-z0-9_\-.~%*+$:]{8,600}")
ROLE_LABELS = dict(User.Role.choices)


def _library() -> dict[str, str]:
    return {
        "name": settings.LIBRARY_NAME,
        "code": settings.LIBRARY_CODE,
        "tier": "省级枢纽" if is_hub() else "市级节点",
    }


def demo_accounts() -> list[dict[str, str]]:
    """The demo's people from its credentials file (usernames, roles, agencies); [] outside
    the demo or when the file is not there yet (the seed writes it after start-up)."""
    path = getattr(settings, "DEMO_CREDENTIALS_FILE", "")
    if not path:
        return []
    try:
        creds = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    accounts = [
        {
            "username": person["username"],
            "role": ROLE_LABELS.get(person.get("role", ""), person.get("role", "")),
            "agency": person.get("agency_name", ""),
            "signin": "/console/login/",
        }
        for person in creds.get("console", {}).get("users", [])
        if person.get("username")
    ]
    holder = creds.get("holder") or {}
    if holder.get("username"):
        accounts.append(
            {
                "username": holder["username"],
                "role": ROLE_LABELS[User.Role.HOLDER],
                "agency": "",
                "signin": "/holder/login/",
            }
        )
    return accounts


def token_from(text: str) -> str:
    """The verify token in a pasted /v/ URL or a bare token; "" when there is none."""
    text = text.strip()
    found = _TOKEN_IN_URL.search(text)
    if found:
        return found.group(1)
    return text if _BARE_TOKEN.fullmatch(text) else ""


@require_GET
def landing(request: HttpRequest) -> HttpResponse:
    return _render(request)


@require_GET
def landing_verify(request: HttpRequest) -> HttpResponse:
    """The public verifier's form: on to /v/<token>, the page a QR code opens."""
    text = request.GET.get("q", "")[:4000]
    token = token_from(text)
    if not token:
        return _render(
            request, error="请粘贴证照二维码中的核验网址（含 /v/）或核验令牌", q=text, status=400
        )
    return redirect("verify-page", token=token)


def _render(request: HttpRequest, *, error: str = "", q: str = "", status: int = 200) -> Any:
    accounts = demo_accounts()
    context = {
        "library": _library(),
        "demo_accounts": accounts,
        "demo_library": Path(settings.DEMO_CREDENTIALS_FILE).stem if accounts else "",
        "error": error,
        "q": q,
    }
    return render(request, "console/landing/landing.html", context, status=status)
