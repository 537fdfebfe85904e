"""The holder portal, at the site root under /holder/."""

from django.urls import path

from shared.access import delegation_views, portal_views

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
    path("holder/accesses.csv", portal_views.holder_accesses_csv, name="holder-accesses-csv"),
    path("holder/shares/", portal_views.holder_shares, name="holder-shares"),
    path(
        "holder/shares/<str:share_id>/revoke/",
        portal_views.holder_share_revoke,
        name="holder-share-revoke",
    ),
    path("holder/act/", delegation_views.holder_act, name="holder-act"),
    path("holder/delegations/", delegation_views.holder_delegations, name="holder-delegations"),
    path(
        "holder/delegations/<str:delegation_id>/revoke/",
        delegation_views.holder_delegation_revoke,
        name="holder-delegation-revoke",
    ),
]
