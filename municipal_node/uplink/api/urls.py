"""Node-only endpoints the hub calls: downward envelopes (art. 15), digests, resend, and
licence files by digest."""

from django.urls import path

from municipal_node.uplink.api import views
from shared.federation.api import views as exchange

urlpatterns = [
    path("federation/envelopes/", exchange.EnvelopeApi.as_view(), name="federation-envelopes"),
    path("federation/status", exchange.StatusApi.as_view(), name="federation-status"),
    path("federation/digests/", exchange.DigestsApi.as_view(), name="federation-digests"),
    path("federation/resend/", views.ResendApi.as_view(), name="federation-resend"),
    path("federation/files/<str:sm3>", views.NodeFileApi.as_view(), name="federation-file"),
]
