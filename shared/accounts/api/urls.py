from django.urls import path

from shared.accounts.api import views

urlpatterns = [
    path("me/", views.MeApi.as_view(), name="me"),
    path("agencies/", views.AgencyListApi.as_view(), name="agency-list"),
    path("agencies/<str:code>/", views.AgencyDetailApi.as_view(), name="agency-detail"),
    path("agencies/<str:code>/users/", views.AgencyUserListApi.as_view(), name="agency-users"),
    path("tokens/", views.TokenListApi.as_view(), name="token-list"),
    path("tokens/<int:token_id>/revoke/", views.TokenRevokeApi.as_view(), name="token-revoke"),
]
