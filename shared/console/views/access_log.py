"""库管理 → 用证记录链: the library administrator sees the access log's latest signed checkpoint
and its verifications (a worker's job, `shared.access.log.verify_runs`), asks for a new one,
and watches its progress; the page reloads itself while one is under way."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from shared.access.log.verify_runs import verify_request
from shared.access.models import Checkpoint, VerifyRun
from shared.accounts.requests import AuthenticatedHttpRequest
from shared.console import roles

UNDER_WAY = (VerifyRun.State.QUEUED, VerifyRun.State.RUNNING)


@roles.console_view(roles.library_admin)
def access_log(request: AuthenticatedHttpRequest) -> HttpResponse:
    runs = list(VerifyRun.objects.order_by("-id")[:10])
    latest = runs[0] if runs else None
    context = {
        "checkpoint": Checkpoint.objects.order_by("-tree_size").first(),
        "latest": latest,
        "runs": runs,
        "under_way": latest is not None and latest.state in UNDER_WAY,
        "percent": (
            min(100, latest.checked * 100 // latest.total) if latest and latest.total else 0
        ),
    }
    return render(request, "console/admin/access_log.html", context)


@roles.console_view(roles.library_admin)
@require_POST
def access_log_verify(request: AuthenticatedHttpRequest) -> HttpResponse:
    _, new = verify_request(requested_by=request.user.get_username())
    if new:
        messages.success(request, "已发起校验，后台逐条核对中；本页每 5 秒刷新一次进度")
    else:
        messages.info(request, "已有一次校验在进行中，请等待其完成")
    return redirect("console-access-log")
