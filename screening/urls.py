from django.urls import path

from screening import views

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
]
