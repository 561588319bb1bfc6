"""Response headers and error-report filtering that protect patients' data."""

import ipaddress
import logging
import re
import traceback

from django.conf import settings
from django.http import HttpResponseBadRequest
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

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


class PrivatePagesMiddleware:
    """Asks browsers and proxies to keep no copy of anything sent to a signed-in user.

    Pages, downloads and diagrams alike may name patients; a copy in the browser's cache or
    a shared proxy would outlive the session on a ward computer. Static files never get here
    (WhiteNoise answers them earlier) and stay cacheable.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        # Read after the view: signing in or out changes the user.
        if request.user.is_authenticated:
            patch_cache_control(response, no_store=True, private=True)
        return response


class NullCharacterMiddleware:
    """Answers 400 to an address whose path or query holds a NUL character.

    PostgreSQL refuses NUL in text, so such a value looked up as a screening number would fail
    with a 500 wherever it reaches a query; forms already refuse it in posted fields.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        query = (item for pair in request.GET.lists() for item in (pair[0], *pair[1]))
        if "\x00" in request.path or any("\x00" in item for item in query):
            return HttpResponseBadRequest(
                _("The address holds a NUL character."), content_type="text/plain; charset=utf-8"
            )
        return self.get_response(request)


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


# Identifying values stay out of error reports whatever their form: a query string can hold a
# searched name, an exception message the row a database refused, a local variable a referral.
WITHHELD = "[withheld: may identify a patient]"
# A query string, unless it is withheld already: the filter may see a record twice (on the
# logger and on the handler), and a second pass must leave it as the first left it.
QUERY_STRING = re.compile(r"\?(?!\[withheld)[^\s\"']+")


def without_query(text: str) -> str:
    return QUERY_STRING.sub("?" + WITHHELD, text)


class PatientDataExceptionReporter(ExceptionReporter):
    """Error reports (the 500 e-mail) without exception messages, local variables or queries.

    What is left, the code path and the exception types, is what finding the fault needs; the
    failing input is reproduced from the path, not read from the report.
    """

    def get_traceback_data(self):
        data = super().get_traceback_data()
        if not self.filter.is_active(self.request):
            return data
        for frame in data["frames"]:
            frame["vars"] = []
            if frame.get("exc_cause") is not None:
                frame["exc_cause"] = type(frame["exc_cause"]).__name__
        if "exception_value" in data:
            data["exception_value"] = WITHHELD
        data.pop("exception_notes", None)
        data["unicode_hint"] = ""
        if self.request is not None:
            data["request_insecure_uri"] = without_query(data["request_insecure_uri"])
            data["request_GET_items"] = [(name, WITHHELD) for name in self.request.GET]
            # gunicorn repeats the query in RAW_URI and REQUEST_URI; the referer may carry one.
            meta = {
                name: without_query(value) if isinstance(value, str) else value
                for name, value in data["request_meta"].items()
            }
            if meta.get("QUERY_STRING"):
                meta["QUERY_STRING"] = WITHHELD
            data["request_meta"] = meta
        return data


def redacted_traceback(exc_info) -> str:
    """The traceback of ``exc_info`` and of its causes, with every exception message withheld."""
    _type, exception, _traceback = exc_info
    chain = []
    while exception is not None and exception not in chain:
        chain.append(exception)
        exception = exception.__cause__ or exception.__context__
    lines = []
    for exception in reversed(chain):
        if lines:
            lines.append("\nwhich led to:\n")
        lines.append("Traceback (most recent call last):\n")
        lines.extend(traceback.format_tb(exception.__traceback__))
        lines.append(f"{type(exception).__module__}.{type(exception).__qualname__}: {WITHHELD}")
    return "".join(lines)


class PatientDataLogFilter(logging.Filter):
    """Withholds exception messages and query strings from every log record it sees.

    A database error quotes the row it refused ("Key (site_id, hospital_number)=(1, H123)")
    and runserver logs request lines with their query strings (a name searched for).
    """

    def filter(self, record):
        if record.exc_info and not getattr(record, "patient_data_withheld", False):
            record.exc_text = redacted_traceback(record.exc_info)
            record.patient_data_withheld = True
        message = record.getMessage()
        if QUERY_STRING.search(message):
            record.msg, record.args = without_query(message), ()
        return True


def _address(text: str | None) -> str | None:
    """``text`` as one spelling of its address, or None when it is no address.

    An IPv4 client reaching a dual-stack socket shows as ``::ffff:10.0.2.1``; it is the same
    client as ``10.0.2.1`` and must count against the same address.
    """
    try:
        address = ipaddress.ip_address((text or "").strip())
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped or address)


def client_ip(request) -> str | None:
    """The address django-axes counts failed sign-ins against, normalised (``_address``).

    Behind nginx every request comes from the proxy's address, so one person's typos would lock
    out the whole hospital: when the request comes from a trusted proxy (``TRUSTED_PROXIES``)
    the address nginx appended last to X-Forwarded-For is the client's. Anything earlier in that
    header was sent by the client and is not trusted, nor is anything that is not an address.
    """
    remote = _address(request.META.get("REMOTE_ADDR")) or request.META.get("REMOTE_ADDR")
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    trusted = {_address(proxy) for proxy in settings.TRUSTED_PROXIES}
    if remote in trusted and forwarded.strip():
        return _address(forwarded.split(",")[-1]) or remote
    return remote


# The length of django-axes' username column.
AXES_USERNAME_LENGTH = 255


def axes_username(request, credentials=None) -> str | None:
    """The username django-axes counts failed sign-ins against, as its table can hold it.

    The sign-in form passes any username on to authentication; a longer one than the column
    holds would fail the insert (a 500) instead of counting as a failure. Real usernames are at
    most 150 characters, so a cut one can only ever match other junk.
    """
    username = credentials.get("username") if credentials else request.POST.get("username")
    return None if username is None else username[:AXES_USERNAME_LENGTH]
