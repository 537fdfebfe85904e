from django.urls import path

from shared.access.api import bulk_views, verify, views

urlpatterns = [
    path("share/query/", views.ShareQueryApi.as_view(), name="share-query"),
    path("grants/", views.GrantListApi.as_view(), name="grant-list"),
    path("grants/<str:grant_id>/revoke/", views.GrantRevokeApi.as_view(), name="grant-revoke"),
    path("access-log/", views.AccessLogListApi.as_view(), name="access-log"),
    path("access-log/export/", views.AccessLogExportApi.as_view(), name="access-log-export"),
    path(
        "access-log/checkpoint/",
        views.AccessLogCheckpointApi.as_view(),
        name="access-log-checkpoint",
    ),
    path("access-log/verify/", verify.AccessLogVerifyApi.as_view(), name="access-log-verify"),
    path("access-log/proof/<str:seq>/", views.AccessLogProofApi.as_view(), name="access-proof"),
    path("bulk-requests/", bulk_views.BulkRequestListApi.as_view(), name="bulk-list"),
    path(
        "bulk-requests/<str:request_id>/",
        bulk_views.BulkRequestDetailApi.as_view(),
        name="bulk-detail",
    ),
    path(
        "bulk-requests/<str:request_id>/download/",
        bulk_views.BulkRequestDownloadApi.as_view(),
        name="bulk-download",
    ),
    path(
        "bulk-requests/<str:request_id>/<str:decision>/",
        bulk_views.BulkRequestDecisionApi.as_view(),
        name="bulk-decision",
    ),
]
