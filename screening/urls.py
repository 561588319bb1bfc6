from django.urls import path

from screening import views, views_exports, views_mdt

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("healthz", views.healthz, name="healthz"),
    path("referrals/", views.referral_list, name="referral_list"),
    path("referrals/new/", views.referral_create, name="referral_create"),
    # Before the <screening_number> routes, which would otherwise take "evaluate" as a number.
    path("referrals/evaluate/", views.referral_evaluate, name="referral_evaluate"),
    path("referrals/<str:screening_number>/", views.referral_detail, name="referral_detail"),
    path("referrals/<str:screening_number>/edit/", views.referral_edit, name="referral_edit"),
    path(
        "referrals/<str:screening_number>/withdraw/",
        views.referral_withdraw,
        name="referral_withdraw",
    ),
    path("mdt/", views_mdt.mdt_queue, name="mdt_queue"),
    path(
        "referrals/<str:screening_number>/decision/",
        views_mdt.referral_decision,
        name="referral_decision",
    ),
    path(
        "referrals/<str:screening_number>/enrol/",
        views_mdt.referral_enrol,
        name="referral_enrol",
    ),
    path(
        "referrals/<str:screening_number>/decline/",
        views_mdt.referral_decline,
        name="referral_decline",
    ),
    path(
        "referrals/<str:screening_number>/history/",
        views_mdt.referral_history,
        name="referral_history",
    ),
    path("exports/", views_exports.exports_page, name="exports"),
    # /exports/enrolment.csv, /exports/screening-log.xlsx ... named export_<kind>_<format>.
    *(
        path(
            f"exports/{export.slug}.{file_format}",
            views_exports.export_download,
            {"kind": export.kind, "file_format": file_format},
            name=f"export_{export.kind}_{file_format}",
        )
        for export in views_exports.EXPORTS.values()
        for file_format in ("csv", "xlsx")
    ),
    path("reports/consort/", views_exports.consort_page, name="consort"),
    path("reports/consort.svg", views_exports.consort_svg, name="consort_svg"),
]
