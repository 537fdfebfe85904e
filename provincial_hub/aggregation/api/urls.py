"""Hub-only endpoints (DESIGN §8): the exchange the nodes call, and the aggregation console."""

from django.urls import path

from provincial_hub.aggregation.api import views
from shared.federation.api import views as exchange

urlpatterns = [
    path("exchange/envelopes/", exchange.EnvelopeApi.as_view(), name="exchange-envelopes"),
    path("exchange/status", exchange.StatusApi.as_view(), name="exchange-status"),
    path(
        "exchange/digests/",
        exchange.DigestsApi.as_view(scope_is_sender=True),
        name="exchange-digests",
    ),
    path("exchange/recover/", views.RecoverApi.as_view(), name="exchange-recover"),
    path(
        "exchange/share/query/",
        views.ForwardedShareQueryApi.as_view(),
        name="exchange-share-query",
    ),
    path(
        "exchange/share/verify/",
        views.ForwardedShareVerifyApi.as_view(),
        name="exchange-share-verify",
    ),
    path(
        "federation/trust-list/",
        views.ProvincialTrustListApi.as_view(),
        name="federation-trust-list",
    ),
    path("aggregation/nodes/", views.AggregationNodesApi.as_view(), name="aggregation-nodes"),
    path("aggregation/files/", views.RemoteFileListApi.as_view(), name="aggregation-files"),
    path(
        "aggregation/files/retry/",
        views.RemoteFileRetryApi.as_view(),
        name="aggregation-files-retry",
    ),
]
