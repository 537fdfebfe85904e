"""Agencies, users and tokens in the admin, through the account services (rules and audit).

Nothing is deleted here (an agency or a user is deactivated instead); tokens are issued through
the API, which shows the secret once, and revoked here by an action.
"""

from contextvars import ContextVar

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm, AdminUserCreationForm

from shared.accounts import services
from shared.accounts.models import Agency, ApiToken, User
from shared.audit.admin_services import REFUSALS, ServiceAdmin, adopt, refused
from shared.audit.context import audit_via

# The administrator changing a password: Django builds the password form without the request.
_password_actor: ContextVar[User | None] = ContextVar("password_actor", default=None)


class NoDeleteAdmin(ServiceAdmin):
    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Agency)
class AgencyAdmin(NoDeleteAdmin):
    list_display = ("code", "name", "kind", "level", "is_issuer", "is_consumer", "active")
    list_filter = ("kind", "level", "is_issuer", "is_consumer", "active")
    search_fields = ("code", "name")
    fields = ("code", "name", "kind", "level", "area_code", "is_issuer", "is_consumer", "active")

    def get_readonly_fields(self, request, obj=None):
        return ("code",) if obj is not None else ()

    def get_fields(self, request, obj=None):
        # A new agency starts active (agency_create); deactivating it is a later change.
        return self.fields if obj is not None else self.fields[:-1]

    def save_model(self, request, obj, form, change) -> None:
        data = form.cleaned_data
        if change:
            fields = {k: data[k] for k in form.changed_data}
            if fields:
                services.agency_update(actor=request.user, agency=obj, **fields)
            return
        fields = {k: data[k] for k in self.fields[1:-1]}
        adopt(obj, services.agency_create(actor=request.user, code=data["code"], **fields))


class UserAddForm(AdminUserCreationForm):
    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ("username", "agency", "role", "display_name")


class PasswordForm(AdminPasswordChangeForm):
    def save(self, commit=True):
        usable = self.cleaned_data["set_usable_password"]
        return services.user_password_set(
            actor=_password_actor.get(),
            user=self.user,
            password=self.cleaned_data["password1"] if usable else None,
        )


@admin.register(User)
class UserAdmin(NoDeleteAdmin, BaseUserAdmin):
    list_display = ("username", "display_name", "agency", "role", "is_active")
    list_filter = ("role", "is_active")
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("个人信息", {"fields": ("display_name", "first_name", "last_name", "email")}),
        ("单位与角色", {"fields": ("agency", "role")}),
        ("权限", {"fields": ("is_active", "is_staff", "is_superuser")}),
        ("重要日期", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "username",
                    "agency",
                    "role",
                    "display_name",
                    "usable_password",
                    "password1",
                    "password2",
                ),
            },
        ),
    )
    add_form = UserAddForm
    change_password_form = PasswordForm
    readonly_fields = ("last_login", "date_joined")
    filter_horizontal = ()

    def get_readonly_fields(self, request, obj=None):
        return (*self.readonly_fields, "username") if obj is not None else ()

    def save_model(self, request, obj, form, change) -> None:
        data = form.cleaned_data
        if change:
            fields = {k: data[k] for k in form.changed_data if k in services.USER_FIELDS}
            if fields:
                services.user_update(actor=request.user, user=obj, **fields)
            return
        created = services.user_create(
            actor=request.user,
            agency=data.get("agency"),
            username=data["username"],
            password=data.get("password1") if data.get("set_usable_password") else None,
            role=data["role"],
            display_name=data.get("display_name", ""),
        )
        adopt(obj, created)

    def user_change_password(self, request, id, form_url=""):
        token = _password_actor.set(request.user)
        try:
            with audit_via("admin"):
                return super().user_change_password(request, id, form_url)
        except REFUSALS as exc:
            return refused(request, exc)
        finally:
            _password_actor.reset(token)


@admin.register(ApiToken)
class ApiTokenAdmin(NoDeleteAdmin):
    list_display = ("prefix", "name", "user", "created_at", "expires_at", "revoked_at")
    readonly_fields = ("prefix", "created_at", "last_used_at")
    exclude = ("digest",)
    actions = ["revoke"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="吊销所选令牌")
    def revoke(self, request, queryset) -> None:
        self.run_each(
            request,
            queryset,
            lambda t: services.token_revoke(actor=request.user, token_id=t.pk),
            "已吊销 {count} 个令牌",
        )
