"""The site's root (every tier): the landing page and its public QR verifier form."""

from django.urls import path

from shared.console.views import landing

urlpatterns = [
    path("", landing.landing, name="root"),
    path("verify/", landing.landing_verify, name="landing-verify"),
]
