"""OpenAPI for the one error shape (STYLE habit 7): every operation documents the errors it answers.

`AutoSchema` (the project's `DEFAULT_SCHEMA_CLASS`) adds `ErrorSerializer` responses that follow
from how DRF and `shared.core.api.exceptions` work, so no view has to repeat them:
401 wherever a request is authenticated (a missing or bad token); 403 on writes (CSRF for session
callers, and the services' `ForbiddenError`); 404 wherever a path names an object; 400 and 415
wherever a request body, a filter or a page's `limit`/`offset` is parsed. What only the business rules know (409 for a state
conflict, 403 on a read) a view declares itself: `@extend_schema(responses={..., 409: ErrorSerializer})`.
"""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from rest_framework import serializers
from rest_framework.permissions import SAFE_METHODS, AllowAny, IsAuthenticated


class ErrorSerializer(serializers.Serializer):
    """`{"code", "message", "detail"}`: what every 4xx answer carries."""

    code = serializers.CharField(help_text="稳定的机器可读错误代码，如 license.not_found")
    message = serializers.CharField(help_text="中文错误说明")
    detail = serializers.DictField(help_text="错误的相关事实，如字段错误；没有时为空对象")


class AutoSchema(SpectacularAutoSchema):
    def _error_status_codes(self) -> set[int]:
        view = self.view
        codes: set[int] = set()
        if getattr(view, "authentication_classes", None):
            codes.add(401)
        if self.method not in SAFE_METHODS:
            codes.add(403)
        permissions = getattr(view, "permission_classes", None) or []
        if any(p not in (AllowAny, IsAuthenticated) for p in permissions):
            codes.add(403)
        if "{" in self.path:
            codes.add(404)
        if self.method in ("POST", "PUT", "PATCH") and self.get_request_serializer() is not None:
            codes.update({400, 415})
        if getattr(view, "filterset_class", None) is not None and self._is_list_view():
            codes.add(400)
        if getattr(view, "pagination_class", None) is not None and self._is_list_view():
            codes.add(400)  # `limit` / `offset` outside 64 bits (shared.core.api.pagination)
        if getattr(view, "rate_limits_anonymous", False):
            codes.add(429)  # unauthenticated callers over their address's budget
        return codes

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code in sorted(self._error_status_codes()):
            if str(code) not in responses:
                responses[str(code)] = self._get_response_for_code(
                    ErrorSerializer, str(code), direction=direction
                )
        return responses


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """`Authorization: Bearer <token>` (DESIGN §8), as an OpenAPI security scheme."""

    target_class = "shared.accounts.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix="Bearer"
        )
