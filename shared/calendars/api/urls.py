from django.urls import path

from shared.calendars.api import views

urlpatterns = [
    path("calendar/overrides/", views.OverrideListApi.as_view(), name="calendar-overrides"),
    path(
        "calendar/overrides/<str:day>/",
        views.OverrideDayApi.as_view(),
        name="calendar-override-day",
    ),
]
