"""Holder enrolment under /holder/ (docs/holders.md)."""

from django.urls import path

from shared.identity import views

urlpatterns = [
    path("holder/oidc/login/", views.oidc_login, name="holder-oidc-login"),
    path("holder/oidc/callback/", views.oidc_callback, name="holder-oidc-callback"),
    path("holder/enrol/", views.enrol, name="holder-enrol"),
    path("holder/otp/", views.otp, name="holder-otp"),
    path("holder/security/", views.security, name="holder-security"),
]
