"""Node-only endpoints: the notices the hub issued to this city's agencies (DESIGN §8 names the
hub's `/api/v1/compliance/notices/`; a city serves the same path for its agencies)."""

from django.urls import path

from municipal_node.notices.api import views

urlpatterns = [
    path("compliance/notices/", views.NoticeListApi.as_view(), name="city-notices"),
    path(
        "compliance/notices/<uuid:notice_id>/",
        views.NoticeDetailApi.as_view(),
        name="city-notice",
    ),
    path(
        "compliance/notices/<uuid:notice_id>/answer/",
        views.NoticeAnswerApi.as_view(),
        name="city-notice-answer",
    ),
]
