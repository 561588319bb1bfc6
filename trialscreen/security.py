"""Response headers and error-report filtering that protect patients' data."""

from django.conf import settings
from django.views.debug import SafeExceptionReporterFilter

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        # Bootstrap draws form controls' icons from data: URIs in its stylesheet.
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


class ContentSecurityPolicyMiddleware:
    """Adds a Content-Security-Policy without 'unsafe-inline': templates carry no inline code."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response


# Form fields that identify a patient; never shown in error reports or e-mails.
IDENTIFYING_PARAMETERS = frozenset({"full_name", "hospital_number", "national_id", "q"})


class PatientDataExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's filter, plus identifying fields hidden from every error report."""

    def get_post_parameters(self, request):
        parameters = super().get_post_parameters(request)
        if request is None:
            return parameters
        parameters = parameters.copy()
        for name in IDENTIFYING_PARAMETERS & set(parameters):
            parameters[name] = self.cleansed_substitute
        return parameters


def client_ip(request) -> str | None:
    """The address django-axes counts failed sign-ins against.

    Behind nginx every request comes from the proxy's address, so one person's typos would lock
    out the whole hospital: when the request comes from a trusted proxy (``TRUSTED_PROXIES``)
    the address nginx appended last to X-Forwarded-For is the client's. Anything earlier in that
    header was sent by the client and is not trusted.
    """
    remote = request.META.get("REMOTE_ADDR")
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if remote in settings.TRUSTED_PROXIES and forwarded.strip():
        return forwarded.split(",")[-1].strip()
    return remote
