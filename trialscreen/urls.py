from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from screening.views import accounts

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/two-step/setup/", accounts.second_factor_setup, name="second_factor_setup"),
    path("accounts/two-step/verify/", accounts.second_factor_verify, name="second_factor_verify"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("screening.urls")),
]
