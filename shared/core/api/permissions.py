"""Permission classes shared by the API apps."""

from rest_framework.permissions import BasePermission


class IsLibraryAdmin(BasePermission):
    message = "仅库管理员（节点管理员/省级运营人员）可执行此操作"

    def has_permission(self, request, view) -> bool:
        return bool(
            request.user and request.user.is_authenticated and request.user.is_library_admin
        )


class IsAgencyMember(BasePermission):
    message = "仅单位人员可执行此操作"

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.agency_id is not None)
