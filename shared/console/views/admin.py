"""Library administration, part one: agencies and staff (with their one-time-code devices).
Every write is the API's service (`shared.accounts.services`, `shared.access.otp`)."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from shared.access.otp import staff_totp_enrol, totp_secret
from shared.accounts import selectors, services
from shared.accounts.api.serializers import AgencyCreateSerializer, UserCreateSerializer
from shared.accounts.models import Agency, User
from shared.accounts.requests import AuthenticatedHttpRequest
from shared.console import roles
from shared.console.helpers import Refusal, paginate, qr_data_uri, validated


@roles.console_view(roles.library_admin)
def agencies(request: AuthenticatedHttpRequest) -> HttpResponse:
    errors: dict[str, str] = {}
    form = request.POST if request.method == "POST" else {}
    if request.method == "POST":
        values, errors = validated(AgencyCreateSerializer, request.POST.dict())
        if values is not None:
            try:
                agency = services.agency_create(actor=request.user, **values)
            except Refusal as exc:
                errors = {"general": exc.message}
            else:
                messages.success(request, f"已登记单位：{agency}")
                return redirect("console-agencies")
    context = {
        "page": paginate(request, selectors.agency_list(user=request.user)),
        "errors": errors,
        "form": form,
        "kinds": Agency.Kind.choices,
        "levels": Agency.Level.choices,
    }
    return render(request, "console/admin/agencies.html", context, status=400 if errors else 200)


@roles.console_view(roles.library_admin)
@require_POST
def agency_toggle(request: AuthenticatedHttpRequest, code: str) -> HttpResponse:
    agency = selectors.agency_list(user=request.user).filter(code=code).first()
    if agency is None:
        messages.error(request, "单位不存在")
        return redirect("console-agencies")
    services.agency_update(actor=request.user, agency=agency, active=not agency.active)
    messages.success(request, f"{agency.name}已{'启用' if not agency.active else '停用'}")
    return redirect("console-agencies")


def _enrolled(
    request: AuthenticatedHttpRequest, user: User, headline: str, reason: str = ""
) -> HttpResponse:
    """The new device's secret, shown once: nothing keeps it in a readable form but the
    person's authenticator. Audited with the actor and the reason (`staff_totp_enrol`)."""
    device = staff_totp_enrol(actor=request.user, user=user, reason=reason)
    context = {
        "person": user,
        "headline": headline,
        "secret": totp_secret(device),
        "qr": qr_data_uri(device.config_url),
    }
    return render(request, "console/admin/enrolled.html", context)


@roles.console_view(roles.manages_staff)
def users(request: AuthenticatedHttpRequest) -> HttpResponse:
    errors: dict[str, str] = {}
    agencies_visible = selectors.agency_list(user=request.user).filter(active=True)
    if request.method == "POST":
        values, errors = validated(UserCreateSerializer, request.POST.dict())
        agency = agencies_visible.filter(code=request.POST.get("agency", "")).first()
        if values is not None and agency is None:
            errors = {"agency": "请选择所属单位"}
        if values is not None and not errors:
            try:
                person = services.user_create(actor=request.user, agency=agency, **values)
            except Refusal as exc:
                errors = {"general": exc.message}
            else:
                return _enrolled(request, person, f"已新增人员 {person.username}")
    # The roles the API creates (UserCreateSerializer); library administrators and supervisors
    # are made by the deployment, not from a screen.
    roles_offered = [(r.value, r.label) for r in (User.Role.STAFF, User.Role.AGENCY_ADMIN)]
    context = {
        "page": paginate(request, selectors.staff_list(user=request.user)),
        "agencies": agencies_visible,
        "roles_offered": roles_offered,
        "errors": errors,
        "form": request.POST if request.method == "POST" else {},
    }
    return render(request, "console/admin/users.html", context, status=400 if errors else 200)


@roles.console_view(roles.manages_staff)
@require_POST
def user_otp_reset(request: AuthenticatedHttpRequest, username: str) -> HttpResponse:
    person = selectors.staff_list(user=request.user).filter(username=username).first()
    if person is None:
        messages.error(request, "人员不存在")
        return redirect("console-users")
    try:
        reason = request.POST.get("reason", "").strip()[:200]
        if not reason:  # a reset is audited with its reason (art. 29)
            messages.error(request, "请填写重新设置动态口令的原因")
            return redirect("console-users")
        return _enrolled(request, person, f"已为 {person.username} 重新设置动态口令", reason)
    except Refusal as exc:
        messages.error(request, exc.message)
        return redirect("console-users")
