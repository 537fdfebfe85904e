"""Operational endpoints: liveness, readiness, and JSON answers for unknown API paths."""

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers."""
    return JsonResponse({"status": "ok", "tier": settings.LIBRARY_TIER})


def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: the database answers and every migration is applied."""
    checks: dict[str, str] = {}
    ready = True
    try:
        connection = connections[DEFAULT_DB_ALIAS]
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        plan = MigrationExecutor(connection).migration_plan(
            MigrationExecutor(connection).loader.graph.leaf_nodes()
        )
        checks["database"] = "ok"
        checks["migrations"] = "ok" if not plan else f"{len(plan)} pending"
        ready = not plan
    except Exception as exc:  # noqa: BLE001 - readiness reports any failure as "not ready"
        checks["database"] = f"error: {exc.__class__.__name__}"
        ready = False
    body = {
        "status": "ready" if ready else "not_ready",
        "tier": settings.LIBRARY_TIER,
        "library_code": settings.LIBRARY_CODE,
        "library_name": settings.LIBRARY_NAME,
        "checks": checks,
    }
    return JsonResponse(body, status=200 if ready else 503)


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(
        {"code": "not_found", "message": "请求的地址不存在", "detail": {"path": request.path}},
        status=404,
    )


def server_error(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {"code": "server_error", "message": "服务器内部错误，请联系管理员", "detail": {}},
        status=500,
    )
