"""Node-only endpoints the hub calls: downward envelopes (art. 15), digests, resend, and
licence files by digest."""

from django.urls import path

from shared.federation.api import views

urlpatterns = [
    path("federation/envelopes/", views.EnvelopeApi.as_view(), name="federation-envelopes"),
    path("federation/status", views.StatusApi.as_view(), name="federation-status"),
    path("federation/digests/", views.DigestsApi.as_view(), name="federation-digests"),
    path("federation/resend/", views.ResendApi.as_view(), name="federation-resend"),
    path("federation/files/<str:sm3>", views.NodeFileApi.as_view(), name="federation-file"),
]
