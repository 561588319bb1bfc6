"""Every main page in the Chinese interface reads in Chinese, for every role.

The visible text of each page (tags, scripts and styles stripped, attribute values ignored) is
searched for words of Latin letters. What clinicians write in Latin letters in Chinese too
(staging, units, criterion codes, lab and scale abbreviations, file formats: ``ALLOWED``) and
what the test itself entered (names, numbers, reasons) are set aside; any word left is English
a user of the Chinese interface would see, and the failure shows it in its sentence.
"""

import re
from html.parser import HTMLParser

import pytest
from axes.models import AccessFailureLog
from django.conf import settings
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse
from django.utils import translation
from pghistory.models import MiddlewareEvents

from screening import services
from screening.models import ExportLog, Referral, Site
from tests.factories import create_referral
from tests.flows import varied_trial

pytestmark = pytest.mark.django_db

# Latin script a Chinese clinician writes too. Keep it short: each entry is a term of the trade.
ALLOWED = re.compile(
    r"""
    \bTrialScreen\b | \bEnglish\b                       # the brand; the English language option
    | \b(?:MDT|CONSORT|AJCC|ECOG|LVEF|FEV1|ALT|AST|WBC|ANC|ICD)\b
    | \b(?:CSV|XLSX|JSON|XML|SVG|PNG|PDF|Excel)\b       # file formats, the spreadsheet program
    | \bCDISC\ ODM\b | \bODM\b                          # the data standard of the XML export
    | \bUTF-8\b | \bBOM\b | \bMB\b | \bYYYY-MM-DD\b     # how an imported file is written
    | \bFHIR\ R4\b | \b(?:FHIR|LOINC)\b                 # the laboratory's standards, and
    | \b(?:Bundle|Patient|Observation|final|amended)\b  # FHIR's names a lab's IT staff knows
    | \bICH\ E6\b                                       # the GCP guideline
    | \bGy\(RBE\) | \bGy\b | \bRBE\b                    # dose
    | \b(?:IU/L|U/L|umol/L|mg/dL|g/dL|g/L|mL/min)|µmol/L|\bx?10\^[39]/u?L|\bL\b
    | \b[cyp]?(?:(?:T(?:is|X|[0-4][ab]?)|N[X0-3]|M[01])(?:-[0-4])?)+\b  # cT3N2M0, cT1-4N0-3M0
    | \bc?[TNM]\b | \bcTNM\b | \bV[23]0\b                # T, N and M staging; lung V20, heart V30
    | \b(?:IV|III|II|I)[ABC]?\b                          # stage groups
    | \b[IE][1-6]\b                                      # criterion codes
    | \bn\ =                                             # a CONSORT box's count
    | \bA4\b                                            # the paper of the MDT's packet
    | \bS-\d{5}\b | \bEC-(?:\d+|\{:\d+d\}) | \bv\d+\b    # screening, study numbers; versions
    """,
    re.VERBOSE | re.ASCII,  # a word ends where Latin letters do, also before a Chinese one
)


class _VisibleText(HTMLParser):
    """The text a reader sees: element content, not attributes, scripts or styles."""

    HIDDEN = {"script", "style", "template"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self.hidden = [], 0

    def handle_starttag(self, tag, attrs):
        self.hidden += tag in self.HIDDEN

    def handle_endtag(self, tag):
        self.hidden -= tag in self.HIDDEN

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def english_words(html: str, entered: tuple[str, ...] = ()) -> dict[str, str]:
    """Latin words left once what the test entered and the allowed terms are set aside, each
    with the text around its first appearance."""
    text = visible_text(html)
    for value in sorted(entered, key=len, reverse=True):
        text = text.replace(value, " ")
    text = ALLOWED.sub(" ", text)
    return {
        match[0]: text[max(match.start() - 30, 0) : match.end() + 30]
        for match in reversed(list(re.finditer(r"[A-Za-z]+", text)))
    }


@pytest.fixture
def chinese():
    """Pages rendered in Chinese; English put back for the tests after this one (a request
    leaves its language active in the thread)."""
    with translation.override("en"):
        yield


@pytest.fixture
def trial(coordinator_wuwei, mdt_member, data_manager):
    """Referrals in every status at both sites, one of them a possible duplicate, the
    notifications they brought, and what the audit review lists: a download by a command
    and one in the browser, and a failed sign-in."""
    referrals = varied_trial(coordinator_wuwei, mdt_member)
    first = referrals["screened"][0]
    referrals["duplicate"] = create_referral(
        user=coordinator_wuwei,
        number=900,
        full_name=first.full_name,
        date_of_birth=first.date_of_birth.isoformat(),
        sex=first.sex,
    )
    services.export_log_create(
        user=data_manager,
        kind=ExportLog.Kind.SCREENING_LOG,
        file_format="xlsx",
        row_count=12,
        site=Site.objects.get(code="lanzhou"),
    )
    services.export_log_create(
        user=data_manager,
        kind=ExportLog.Kind.IDENTIFICATION,
        file_format="csv",
        row_count=30,
        channel=ExportLog.Channel.COMMAND,
        os_user="trialscreen",
    )
    AccessFailureLog.objects.create(
        username="someone", ip_address="10.0.0.1", path_info="/accounts/login/"
    )
    return referrals


# What the trial's people typed: user names, the rationales and reasons of tests/flows.py and
# the factories, and a referring physician of the factories' patients.
TYPED = (
    "coord-wuwei",
    "coord-lanzhou",
    "mdt-member",
    "data-manager",
    "Fit for CIRT.",
    "Not suitable.",
    "Corrected from the source record.",
    "moved away",
    "changed mind",
    "died",
    "Dr Sun",
    "trialscreen",  # the operating-system account of a command
    "someone",  # a user name tried at the sign-in page ...
    "/accounts/login/",  # ... and the address of that page
)


def entered() -> tuple[str, ...]:
    rows = Referral.objects.values_list("hospital_number", "full_name")
    return (*TYPED, *(value for row in rows for value in row))


def pages_of(role: str, user, referrals) -> list[str]:
    """The pages ``role`` opens in a working day, on referrals in every status it may see."""
    shown = [
        referral
        for referral in (
            referrals["waiting"][3],  # approved, then changed: back in the queue
            *referrals["screened"][:3],
            *referrals["waiting"][:3],
            referrals["withdrawn_early"],
            *referrals["rejected"],
            *referrals["approved"][4:],
            referrals["enrolled"][0],
            referrals["declined"],
            referrals["withdrawn_late"],
            referrals["duplicate"],
        )
        if role != "coordinator_wuwei" or referral.site.code == "wuwei"
    ]
    waiting = next(r for r in shown if r.status == Referral.Status.MDT_REVIEW).screening_number
    approved = next(r for r in shown if r.status == Referral.Status.MDT_APPROVED)
    duplicate = referrals["duplicate"].screening_number
    common = [
        reverse("dashboard"),
        reverse("referral_list"),
        reverse("referral_list") + "?status=mdt_review&site=wuwei",
        reverse("notifications"),
        *(reverse("referral_detail", args=[r.screening_number]) for r in shown),
        # Changed after its approval; rejected for another reason than a criterion.
        *(
            reverse("referral_history", args=[r.screening_number])
            for r in (shown[0], referrals["rejected"][2])
            if r in shown
        ),
    ]
    if role == "coordinator_wuwei":
        return [
            *common,
            reverse("referral_create"),
            reverse("referral_edit", args=[waiting]),
            reverse("referral_withdraw", args=[waiting]),
            reverse("referral_enrol", args=[approved.screening_number]),
            reverse("referral_labs", args=[waiting]),
            reverse("imports"),
        ]
    if role == "mdt":
        return [
            *common,
            reverse("mdt_queue"),
            reverse("mdt_packet"),
            reverse("referral_decision", args=[waiting]),
            reverse("referral_decision", args=[duplicate]),
        ]
    return [
        *common,
        reverse("referral_edit", args=[waiting]),
        reverse("exports"),
        reverse("consort"),
        reverse("consort") + "?site=lanzhou&referred_from=2025-05-01",
        reverse("imports"),
        reverse("audit"),
        *admin_pages(user),
    ]


def admin_pages(user) -> list[str]:
    """The admin's index, each list its index offers ``user``, and a record of each kind a data
    manager opens: a referral, a recorded change, the amendment form."""
    request = RequestFactory().get(reverse("admin:index"))
    request.user = user
    lists = [
        model["admin_url"]
        for app in admin.site.get_app_list(request)
        for model in app["models"]
        if model["admin_url"]
    ]
    referral = Referral.objects.order_by("pk").first()
    change = MiddlewareEvents.objects.filter(pgh_obj_model="screening.Referral").first()
    return [
        reverse("admin:index"),
        *lists,
        reverse("admin:screening_referral_change", args=[referral.pk]),
        reverse("admin:pghistory_middlewareevents_change", args=[change.pgh_slug]),
        reverse("admin:screening_protocolversion_add"),
    ]


@pytest.mark.parametrize("role", ["coordinator_wuwei", "mdt", "data_manager"])
def test_every_page_reads_in_chinese(client_as, cast, trial, chinese, role):
    client = client_as(role)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    data = entered()
    found = {}
    for path in pages_of(role, cast[role], trial):
        response = client.get(path)
        assert response.status_code == 200, path
        page = response.content.decode()
        assert '<html lang="zh-hans"' in page or 'lang="zh-hans"' in page, path
        # The sites' list in the admin shows their English names and codes to be edited.
        sites = Site.objects.values_list("code", "name") if "/site/" in path else ()
        words = english_words(page, (*data, *(value for row in sites for value in row)))
        if words:
            found[path] = words
    assert not found, "\n".join(
        f"{path}: " + " | ".join(f"{word}: …{around}…" for word, around in words.items())
        for path, words in found.items()
    )


def test_the_sign_in_page_reads_in_chinese(client, chinese):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    page = client.get(reverse("login")).content.decode()
    assert english_words(page) == {}


def test_the_check_finds_english_in_the_visible_text_only():
    page = """<p title="Title">转诊 <b>Referral</b> cT3N2M0 I4 ALT 120 U/L 临床 T 分期</p>
        <script>var hidden</script><style>p { color: red }</style>"""
    assert list(english_words(page)) == ["Referral"]
    assert english_words("<p>选择MDT决定</p>") == {}
    assert english_words("<p>王建国 WU100001 转诊</p>", ("WU100001",)) == {}
