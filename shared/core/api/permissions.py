"""Permission classes shared by the API apps."""

from rest_framework.permissions import BasePermission, IsAuthenticated

from shared.core.errors import ForbiddenError


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


class IsLibraryAdminOrSupervisor(BasePermission):
    """Reads the supervision needs (art. 31): the library administrator's consoles that the
    provincial supervisor may read too (aggregation, timeliness, compliance)."""

    message = "仅库管理员或省级监管人员可查看"

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(
            user and user.is_authenticated and (user.is_library_admin or user.is_supervisor)
        )


SUPERVISOR_REFUSED = "permission.supervisor_refused"


class NotSupervisor(BasePermission):
    """The supervisor never issues, changes or queries licences (art. 6, 31): every licence,
    sharing and bulk endpoint refuses it with one stable code. Raised rather than returned, so
    the refusal keeps its code; views that record refusals (`RecordedRefusalsMixin`) log it."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if user and user.is_authenticated and getattr(user, "is_supervisor", False):
            raise ForbiddenError(
                SUPERVISOR_REFUSED, "省级监管人员不能签发、变更或查询证照，只能查看监管所需的信息"
            )
        return True


# The permissions of an endpoint that reads or changes licences (the API's default, plus the
# supervisor's refusal).
LICENCE_USERS = [IsAuthenticated, NotSupervisor]
