"""Delivery console, at either tier (a node's uplink, the hub's downlinks)."""

from django.urls import path

from shared.federation.api import views

urlpatterns = [
    path("federation/outbox/", views.OutboxListApi.as_view(), name="federation-outbox"),
    path("federation/outbox/retry/", views.OutboxRetryApi.as_view(), name="federation-retry"),
    path("federation/streams/", views.StreamListApi.as_view(), name="federation-streams"),
    path(
        "federation/reconciliations/",
        views.ReconcileRunListApi.as_view(),
        name="federation-reconciliations",
    ),
]
