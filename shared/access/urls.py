"""The holder portal, at the site root under /holder/."""

from django.urls import path

from shared.access import portal_views

urlpatterns = [
    path("holder/login/", portal_views.holder_login, name="holder-login"),
    path("holder/logout/", portal_views.holder_logout, name="holder-logout"),
    path("holder/", portal_views.holder_home, name="holder-home"),
    path("holder/accesses/", portal_views.holder_accesses, name="holder-accesses"),
    path(
        "holder/licences/<str:identifier>/share/",
        portal_views.holder_share,
        name="holder-share",
    ),
    path("holder/s/<str:token>/", portal_views.holder_share_open, name="holder-share-open"),
]
