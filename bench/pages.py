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
BEYOND_LAST_PAGE = 10**9


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


def _linked_pages(html: str) -> set[int]:
    return {int(number) for number in _PAGE_NUMBER.findall(html)}


def last_page(get, page: Page) -> int:
    """The number of the list's last page.

    The list links only to the pages next to the current one, so the last page is found by
    asking for a page far beyond it: the paginator answers with the last page, which links
    to the one before it.
    """
    first = page.path.split("?", 1)[0]
    if not _linked_pages(get(page, first)):
        return 1
    # Links that keep the query string (sorting, language) repeat the number asked for.
    beyond = _linked_pages(get(page, f"{first}?page={BEYOND_LAST_PAGE}")) - {BEYOND_LAST_PAGE}
    if not beyond:
        raise RuntimeError(f"{first}?page={BEYOND_LAST_PAGE} does not show the last page")
    return max(beyond) + 1


def paths(get) -> dict[str, str]:
    """Each page's concrete path. ``get(page, path)`` returns a page's HTML (needed to find
    the list's last page)."""
    referral = sample_referral()
    found = {}
    for page in PAGES:
        if "{last}" in page.path:
            found[page.name] = page.path.format(last=last_page(get, page))
        else:
            found[page.name] = page.path.format(referral=referral)
    return found
