"""TrialScreen settings: one module, driven by the environment (see README.md)."""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

if DEBUG:
    SECRET_KEY = env("SECRET_KEY", default="insecure-development-key-for-debug-only")
else:
    try:
        SECRET_KEY = env("SECRET_KEY")
    except ImproperlyConfigured as missing:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set the SECRET_KEY environment variable "
            "(or DEBUG=true for local development)."
        ) from missing

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_filters",
    "django_htmx",
    "pgtrigger",
    "pghistory",
    "pghistory.admin",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "screening",
    # Connects the sign-in signals of trialscreen/accounts.py.
    "trialscreen",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "trialscreen.security.ContentSecurityPolicyMiddleware",
    "trialscreen.security.NullCharacterMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "trialscreen.security.PrivatePagesMiddleware",
    "trialscreen.accounts.SessionRenewalMiddleware",
    # Every page needs a signed-in user unless its view is marked login_not_required.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "trialscreen.accounts.SecondFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "pghistory.middleware.HistoryMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "trialscreen.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "screening.context_processors.navigation",
                "screening.context_processors.unread_notifications",
            ],
        },
    },
]

WSGI_APPLICATION = "trialscreen.wsgi.application"

if env.str("DATABASE_URL", default=""):
    DATABASES = {"default": env.db_url("DATABASE_URL")}
else:
    from trialscreen.embedded_db import database_settings

    DATABASES = {"default": database_settings(BASE_DIR)}

# Each gunicorn worker keeps its connection between requests: a new one costs a connect and a
# server process whose caches start cold, several milliseconds on every page. Checked before
# reuse, so a restarted database costs one retry, not an error page.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=300)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

AUTHENTICATION_BACKENDS = [
    # Refuses every sign-in while the username or address is locked, before checking passwords.
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, loading the signed-in user with its roles and sites in one query.
    "trialscreen.accounts.RolesModelBackend",
]

# Sign-in protection. Five failed sign-ins lock the username and, separately, the
# address they came from for 30 minutes; the lockout page says whom to contact. A successful
# sign-in forgives the failures of its own username only, never another user's failures from
# the same address (accounts.OwnFailuresResetHandler says why).
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=30)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_HANDLER = "trialscreen.accounts.OwnFailuresResetHandler"
AXES_LOCKOUT_CALLABLE = "screening.views.accounts.locked_out"
AXES_CLIENT_IP_CALLABLE = "trialscreen.security.client_ip"
AXES_USERNAME_CALLABLE = "trialscreen.security.axes_username"
# Every failed sign-in is kept as a row of its own (the lockout counts are reset on success),
# for the audit review; at most 1000 per username, the oldest dropped first.
AXES_ENABLE_ACCESS_FAILURE_LOG = True
# Proxies whose X-Forwarded-For is believed (nginx on the same host; docs/deploy.md).
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=["127.0.0.1", "::1"])
# Whom the lockout page names, e.g. "the IT service desk (extension 4321)".
LOCKOUT_CONTACT = env.str("LOCKOUT_CONTACT", default="")
# Sessions end after 30 idle minutes and when the browser closes. A signed-in request renews
# the session at most once a minute (accounts.SessionRenewalMiddleware) rather than writing it on
# every request as SESSION_SAVE_EVERY_REQUEST would, live evaluations included.
SESSION_COOKIE_AGE = 30 * 60
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# In the database as Django keeps them, read with one SQL statement (trialscreen/sessions.py).
SESSION_ENGINE = "trialscreen.sessions"
# TOTP second factor (trialscreen/accounts.py), offered to every role. With REQUIRE_2FA, on
# unless DEBUG is, MDT members and data managers (who see every site's patients) and staff
# set one up before anything else; REQUIRE_2FA=false for a site that cannot issue devices.
REQUIRE_2FA = env.bool("REQUIRE_2FA", default=not DEBUG)
OTP_TOTP_ISSUER = "TrialScreen"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
# Locale formats override DATE_FORMAT; these modules keep YYYY-MM-DD in both languages.
FORMAT_MODULE_PATH = "trialscreen.formats"
LANGUAGE_COOKIE_AGE = 365 * 24 * 60 * 60  # the language choice outlives the session

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed, compressed names in production (run collectstatic); plain files in development.
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "trialscreen.storage.StaticFilesStorage"
    },
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Production hardening: with DEBUG off, `manage.py check --deploy` reports nothing.
# The app runs behind a TLS-terminating proxy that sets X-Forwarded-Proto (docs/deploy.md).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
DEFAULT_EXCEPTION_REPORTER_FILTER = "trialscreen.security.PatientDataExceptionReporterFilter"
DEFAULT_EXCEPTION_REPORTER = "trialscreen.security.PatientDataExceptionReporter"

# Error e-mails go to ADMINS (comma-separated addresses) when set; reports withhold patient data.
ADMINS = [(address, address) for address in env.list("ADMINS", default=[])]
SERVER_EMAIL = env.str("SERVER_EMAIL", default="trialscreen@localhost")
vars().update(env.email_url("EMAIL_URL", default="smtp://localhost:25"))
# Notifications are also e-mailed (screening/notifications.py) once EMAIL_URL names a relay;
# NOTIFICATION_EMAILS=false keeps them in the application while error reports still go out.
NOTIFICATION_EMAILS = env.bool(
    "NOTIFICATION_EMAILS", default=bool(env.str("EMAIL_URL", default=""))
)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default=SERVER_EMAIL)
# The address users open TrialScreen at, e.g. https://trialscreen.hospital.example; e-mails
# link to the notifications page when it is set.
SITE_URL = env.str("SITE_URL", default="").rstrip("/")

# One line per event on stderr (journald keeps it under systemd). Exception messages and query
# strings are withheld from every record: they can quote a patient's name or hospital number.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "patient_data": {"()": "trialscreen.security.PatientDataLogFilter"},
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
    },
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["patient_data"],
        },
        "mail_admins": {
            "class": "django.utils.log.AdminEmailHandler",
            "level": "ERROR",
            "filters": ["require_debug_false", "patient_data"],
        },
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "django": {"handlers": ["mail_admins"], "level": "INFO"},
        # Filtered where they arise too, so every handler (tests' included) sees them withheld.
        "django.request": {"filters": ["patient_data"]},
        # Lockouts are warnings; the start-up banner and each success are not worth a line.
        "axes": {"level": "WARNING"},
        "django.server": {"handlers": ["console"], "filters": ["patient_data"], "propagate": False},
    },
}

# Audit trail (django-pghistory). Events are stamped with the time of the change itself, not
# of the start of its transaction, so a history reads in the order things happened.
PGHISTORY_CREATED_AT_FUNCTION = "clock_timestamp()"
# The admin's event log shows who (user) and where (request path) beside each change.
PGHISTORY_ADMIN_MODEL = "pghistory.MiddlewareEvents"
# ... in the reader's language.
PGHISTORY_ADMIN_CLASS = "screening.admin.AuditTrailAdmin"
