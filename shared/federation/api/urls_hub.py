"""Hub-only exchange endpoints (DESIGN §8)."""

from django.urls import path

from shared.federation.api import views

urlpatterns = [
    path("exchange/envelopes/", views.EnvelopeApi.as_view(), name="exchange-envelopes"),
    path("exchange/status", views.StatusApi.as_view(), name="exchange-status"),
    path("exchange/digests/", views.DigestsApi.as_view(), name="exchange-digests"),
    path("aggregation/nodes/", views.AggregationNodesApi.as_view(), name="aggregation-nodes"),
    path("aggregation/files/", views.RemoteFileListApi.as_view(), name="aggregation-files"),
    path(
        "aggregation/files/retry/",
        views.RemoteFileRetryApi.as_view(),
        name="aggregation-files-retry",
    ),
]
