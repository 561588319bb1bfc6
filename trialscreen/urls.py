from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.i18n import set_language

from screening.views import accounts

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/two-step/setup/", accounts.second_factor_setup, name="second_factor_setup"),
    path("accounts/two-step/verify/", accounts.second_factor_verify, name="second_factor_verify"),
    path("admin/", admin.site.urls),
    # Open before signing in too: the sign-in page offers the language.
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("", include("screening.urls")),
]
