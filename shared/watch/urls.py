"""The holder portal's watch page, at the site root under /holder/watch/."""

from django.urls import path

from shared.watch import views

urlpatterns = [
    path("holder/watch/", views.holder_watch, name="holder-watch"),
    path("holder/watch/subscribe/", views.holder_watch_subscribe, name="holder-watch-subscribe"),
    path("holder/watch/cancel/", views.holder_watch_cancel, name="holder-watch-cancel"),
]
