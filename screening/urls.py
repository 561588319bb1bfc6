"""The map of the product: coordinators' referrals, the MDT's queue and decisions, enrolment,
data managers' downloads, the reports and each user's notifications."""

from django.urls import path

from screening.views import (
    enrolment,
    exports,
    health,
    imports,
    labs,
    mdt,
    notifications,
    referrals,
    reports,
)


def _referral(suffix: str, view, name: str):
    """A page about one referral: ``referrals/<screening_number>/<suffix>``."""
    return path(f"referrals/<str:screening_number>/{suffix}", view, name=name)


urlpatterns = [
    path("", reports.dashboard, name="dashboard"),
    path("healthz", health.healthz, name="healthz"),
    # Referrals, entered and kept up to date by coordinators.
    path("referrals/", referrals.referral_list, name="referral_list"),
    path("referrals/new/", referrals.referral_create, name="referral_create"),
    # Before the <screening_number> routes, which would otherwise take "evaluate" as a number.
    path("referrals/evaluate/", referrals.referral_evaluate, name="referral_evaluate"),
    _referral("", referrals.referral_detail, "referral_detail"),
    _referral("edit/", referrals.referral_edit, "referral_edit"),
    _referral("withdraw/", referrals.referral_withdraw, "referral_withdraw"),
    _referral("history/", referrals.referral_history, "referral_history"),
    # Lab results from the laboratory system's FHIR Bundle, confirmed by the user.
    _referral("labs/", labs.referral_labs, "referral_labs"),
    # Files of referrals imported in the browser: uploaded, previewed, confirmed.
    path("imports/", imports.import_upload, name="imports"),
    path("imports/<int:pk>/", imports.import_preview, name="import_preview"),
    # The MDT's review.
    path("mdt/", mdt.mdt_queue, name="mdt_queue"),
    path("mdt/packet/", mdt.mdt_packet, name="mdt_packet"),
    _referral("decision/", mdt.referral_decision, "referral_decision"),
    _referral("decision/void/", mdt.referral_decision_void, "referral_decision_void"),
    # Consent and enrolment of approved candidates.
    _referral("enrol/", enrolment.referral_enrol, "referral_enrol"),
    _referral("decline/", enrolment.referral_decline, "referral_decline"),
    # Data managers' downloads: /exports/enrolment.csv, /exports/screening-log.xlsx ...
    path("exports/", exports.exports_page, name="exports"),
    *(
        path(
            f"exports/{export.slug}.{file_format}",
            exports.export_download,
            {"kind": export.kind, "file_format": file_format},
            name=f"export_{export.kind}_{file_format}",
        )
        for export in exports.EXPORTS.values()
        for file_format in ("csv", "xlsx")
    ),
    path("exports/odm.xml", exports.export_odm, name="export_odm"),
    # What every field and column means; for the MDT too.
    *(
        path(
            f"exports/data-dictionary.{file_format}",
            exports.data_dictionary,
            {"file_format": file_format},
            name=f"data_dictionary_{file_format}",
        )
        for file_format in ("csv", "xlsx")
    ),
    # Reports.
    path("reports/consort/", reports.consort_page, name="consort"),
    path("reports/consort.svg", reports.consort_svg, name="consort_svg"),
    path("reports/consort.png", reports.consort_png, name="consort_png"),
    # Data managers' review of the audit trail.
    path("reports/audit/", reports.audit_page, name="audit"),
    # What each user has been told: referrals to review, decisions, reminders.
    path("notifications/", notifications.notification_list, name="notifications"),
    path("notifications/read/", notifications.notifications_read, name="notifications_read"),
    path("notifications/<int:pk>/read/", notifications.notification_read, name="notification_read"),
]
