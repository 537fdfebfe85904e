"""Pages outside /api/v1/: the public criticism list (通报批评, art. 33)."""

from django.urls import path

from provincial_hub.compliance import views

urlpatterns = [
    path("public/criticism/", views.criticism_page, name="criticism-page"),
]
