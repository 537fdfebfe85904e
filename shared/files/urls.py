"""Pages outside /api/v1/: the public verify page a licence's QR code points to."""

from django.urls import path

from shared.files import views

urlpatterns = [
    path("v/<str:token>", views.verify_page, name="verify-page"),
]
