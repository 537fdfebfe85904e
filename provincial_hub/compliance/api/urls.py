"""Hub-only endpoints (DESIGN §8): rectification notices, the evaluations, timeliness, and the
public criticism list."""

from django.urls import path

from provincial_hub.compliance.api import views
from shared.domain.notices import StepKind

urlpatterns = [
    path("compliance/notices/", views.NoticeListApi.as_view(), name="compliance-notices"),
    path(
        "compliance/notices/<uuid:notice_id>/",
        views.NoticeDetailApi.as_view(),
        name="compliance-notice",
    ),
    path(
        "compliance/notices/<uuid:notice_id>/accept/",
        views.NoticeDecisionApi.as_view(kind=StepKind.accept),
        name="compliance-notice-accept",
    ),
    path(
        "compliance/notices/<uuid:notice_id>/reopen/",
        views.NoticeDecisionApi.as_view(kind=StepKind.reopen),
        name="compliance-notice-reopen",
    ),
    path(
        "compliance/notices/<uuid:notice_id>/answer/",
        views.NoticeAnswerApi.as_view(),
        name="compliance-notice-answer",
    ),
    path("compliance/runs/", views.EvaluationRunListApi.as_view(), name="compliance-runs"),
    path("compliance/timeliness/", views.TimelinessApi.as_view(), name="compliance-timeliness"),
    path("public/criticism/", views.CriticismListApi.as_view(), name="public-criticism"),
]
