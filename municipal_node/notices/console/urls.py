"""The node's own console screens, under /console/node/ (the shared console is at /console/)."""

from django.urls import path

from municipal_node.notices.console import views

urlpatterns = [
    path("notices/", views.notice_inbox, name="node-console-notices"),
    path("notices/<str:notice_id>/", views.notice_detail, name="node-console-notice"),
]
