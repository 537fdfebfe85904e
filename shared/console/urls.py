"""The console under /console/ (both tiers; the hub adds /console/hub/, provincial_hub.console)."""

from django.urls import path

from shared.console.views import (
    access_log,
    admin,
    applying,
    audit,
    auth,
    bulk,
    changes,
    holders,
    issuer_gov,
    issuing,
    library,
    licences,
    reviews_inbox,
    seals,
    statistics,
    using,
    webhooks,
)
from shared.console.views import notifications as notify_views

urlpatterns = [
    path("", auth.console_home, name="console-home"),
    path("login/", auth.console_login, name="console-login"),
    path("logout/", auth.console_logout, name="console-logout"),
    # library administration
    path("admin/agencies/", admin.agencies, name="console-agencies"),
    path("admin/agencies/<str:code>/toggle/", admin.agency_toggle, name="console-agency-toggle"),
    path("admin/users/", admin.users, name="console-users"),
    path("admin/users/<str:username>/otp/", admin.user_otp_reset, name="console-user-otp"),
    path("admin/holders/", holders.holders, name="console-holders"),
    path("admin/holders/<str:username>/otp/", holders.holder_otp_reset, name="console-holder-otp"),
    path("admin/tokens/", library.tokens, name="console-tokens"),
    path("admin/tokens/<int:token_id>/revoke/", library.token_revoke, name="console-token-revoke"),
    path("admin/grants/", library.grant_page, name="console-grants"),
    path("admin/grants/<int:grant_id>/revoke/", library.grant_revoke, name="console-grant-revoke"),
    path("admin/outbox/", library.outbox, name="console-outbox"),
    path("admin/outbox/retry/", library.outbox_retry, name="console-outbox-retry"),
    path("admin/webhooks/", webhooks.webhook_deliveries, name="console-webhooks"),
    path(
        "admin/webhooks/retry/",
        webhooks.webhook_deliveries_retry,
        name="console-webhooks-retry",
    ),
    path("admin/workdays/", library.workdays, name="console-workdays"),
    path(
        "admin/workdays/<int:override_id>/delete/",
        library.workday_delete,
        name="console-workday-delete",
    ),
    path("admin/seals/", seals.seals, name="console-seals"),
    path("admin/seals/<str:key_id>/rotate/", seals.seal_rotate, name="console-seal-rotate"),
    # issuing agency
    path("catalogue/", issuing.catalogue, name="console-catalogue"),
    path("catalogue/<str:type_code>/", issuing.type_detail, name="console-type"),
    path("catalogue/<str:type_code>/issue/", issuing.issue_form, name="console-issue"),
    path("check/holder-code/", issuing.holder_code_check, name="console-holder-code-check"),
    path("licences/", licences.licence_list, name="console-licences"),
    path("licences/<str:identifier>/", licences.licence_detail, name="console-licence"),
    path("licences/<str:identifier>/qr/", licences.licence_qr, name="console-licence-qr"),
    path(
        "licences/<str:identifier>/act/<str:action>/",
        licences.licence_act,
        name="console-licence-act",
    ),
    # issuing agency, governance (#15 item 4): reviews, inspections, usage, bulk approvals
    path("reviews/", reviews_inbox.review_inbox, name="console-reviews"),
    path("reviews/<str:review_id>/", reviews_inbox.review_detail, name="console-review"),
    path("inspections/", issuer_gov.inspection_inbox, name="console-inspections"),
    path(
        "inspections/<str:inspection_id>/",
        issuer_gov.inspection_detail,
        name="console-inspection",
    ),
    path("usage/", issuer_gov.usage, name="console-usage"),
    path("bulk-requests/", issuer_gov.bulk_inbox, name="console-bulk-approvals"),
    path(
        "bulk-requests/<str:request_id>/<str:decision>/",
        issuer_gov.bulk_decide,
        name="console-bulk-decide",
    ),
    # application agency
    path("use/query/", using.query, name="console-query"),
    path("use/verify-file/", using.verify_file, name="console-verify-file"),
    path("use/verify-qr/", using.verify_qr, name="console-verify-qr"),
    # issuing and application agencies, part two (bulk upload, renew/amend/pledge, template
    # preview, copies and bulk analysis)
    path("bulk/", bulk.bulk_upload, name="console-bulk"),
    path("bulk/report/", bulk.bulk_upload_report, name="console-bulk-report"),
    path("catalogue/<str:type_code>/preview.png", bulk.type_preview, name="console-type-preview"),
    path("bulk/template/<str:type_code>/", bulk.bulk_template, name="console-bulk-template"),
    path("bulk/<str:batch_id>/", bulk.batch_page, name="console-batch"),
    path("bulk/<str:batch_id>/status/", bulk.batch_status, name="console-batch-status"),
    path("bulk/<str:batch_id>/report/", bulk.batch_report, name="console-batch-report"),
    path(
        "licences/<str:identifier>/change/<str:action>/",
        changes.licence_change,
        name="console-licence-change",
    ),
    path("use/copies/", applying.copies, name="console-copies"),
    path("use/copies/<str:copy_id>/pdf/", applying.copy_download, name="console-copy-download"),
    path("use/bulk-requests/", applying.bulk_requests, name="console-bulk-requests"),
    path(
        "use/bulk-requests/<str:request_id>/download/",
        applying.bulk_request_download,
        name="console-bulk-request-download",
    ),
    # supervision: statistics and the audit trail (i15-supervision)
    path("statistics/", statistics.statistics, name="console-statistics"),
    path("statistics/export.csv", statistics.statistics_csv, name="console-statistics-csv"),
    path("audit/", audit.audit, name="console-audit"),
    path("audit/export.csv", audit.audit_csv, name="console-audit-csv"),
]

# 库管理 → 通知发送 (issue #14, shared.notifications); 用证记录链 (the access log's checks)
urlpatterns += [
    path("admin/access-log/", access_log.access_log, name="console-access-log"),
    path(
        "admin/access-log/verify/", access_log.access_log_verify, name="console-access-log-verify"
    ),
    path("admin/notifications/", notify_views.notifications, name="console-notifications"),
    path(
        "admin/notifications/<uuid:notification_id>/retry/",
        notify_views.notification_retry_view,
        name="console-notification-retry",
    ),
]
