from django.urls import path

from shared.audit.api import views

urlpatterns = [
    path("audit/", views.AuditEntryListApi.as_view(), name="audit-list"),
    path("audit/export.csv", views.AuditExportApi.as_view(), name="audit-export"),
]
