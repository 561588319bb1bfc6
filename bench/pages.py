"""The pages the bench times, who views each, and how their URLs are found.

Shared by the HTTP timing (``bench.run``) and the in-process query counts (``bench.queries``),
so both measure the same requests.
"""

import re
from dataclasses import dataclass

from django.urls import Resolver404, resolve

from screening.models import Enrolment, Referral

HEALTHZ = "healthz"
EXPORT_PATH = "/exports/screening-log.csv"
_PAGE_NUMBER = re.compile(r"[?&;]page=(\d+)")


@dataclass(frozen=True)
class Page:
    name: str
    role: str | None  # a key of bench.seed.USERS; None for no sign-in
    path: str  # may hold {last} (the list's last page) and {referral} (a screening number)


PAGES = (
    Page(HEALTHZ, None, "/healthz"),
    Page("list, first page", "coordinator", "/referrals/"),
    Page("list, last page", "coordinator", "/referrals/?page={last}"),
    Page(
        "list, site + status filter",
        "coordinator",
        f"/referrals/?site=wuwei&status={Referral.Status.MDT_REVIEW}",
    ),
    Page("referral page", "coordinator", "/referrals/{referral}/"),
    Page("MDT queue", "mdt", "/mdt/"),
    Page("dashboard", "coordinator", "/"),
    Page("CONSORT", "data_manager", "/reports/consort/"),
)
EXPORT = Page("screening-log CSV export", "data_manager", EXPORT_PATH)


def exists(path: str) -> bool:
    """Whether the app has a view for ``path`` (pages other engineers build may not exist)."""
    try:
        resolve(path.split("?", 1)[0])
    except Resolver404:
        return False
    return True


def sample_referral() -> str:
    """The screening number of the first enrolled referral: it has every section filled in
    (evaluation, MDT decision, enrolment), so its page is the heaviest to draw."""
    enrolment = Enrolment.objects.select_related("referral").order_by("sequence").first()
    if enrolment is not None:
        return enrolment.referral.screening_number
    return Referral.objects.order_by("pk").values_list("screening_number", flat=True).first()


def last_page(first_page_html: str) -> int:
    """The highest page number the list's first page links to."""
    return max((int(number) for number in _PAGE_NUMBER.findall(first_page_html)), default=1)


def paths(get) -> dict[str, str]:
    """Each page's concrete path. ``get(page, path)`` returns a page's HTML (needed to find
    the list's last page)."""
    referral = sample_referral()
    found = {}
    for page in PAGES:
        if "{last}" in page.path:
            first = page.path.split("?", 1)[0]
            page_html = get(page, first)
            found[page.name] = page.path.format(last=last_page(page_html))
        else:
            found[page.name] = page.path.format(referral=referral)
    return found
