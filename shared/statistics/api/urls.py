from django.urls import path

from shared.statistics.api import views

urlpatterns = [
    path("statistics/", views.StatisticsReportApi.as_view(), name="statistics-report"),
    path("statistics/export.csv", views.StatisticsExportApi.as_view(), name="statistics-export"),
]
