"""The referral list beside Django's admin changelist of the same table, in this process: the
page a team would get for free is the bar the list must clear. The list is timed as it is
served (what it keeps while nothing is committed, ``screening/kept.py``, kept) and with
nothing kept, as the first view after a write draws it. Needs Django set up against the bench
database (``bench.run`` does that)."""

import statistics
import time

from django.contrib import admin
from django.core.cache import cache
from django.test import Client

from bench import seed
from bench.stats import summary
from screening.models import Referral
from screening.views.referrals import LIST_PAGE_SIZE

ROLE = "data_manager"  # opens both pages, and sees every site in each
# name: (path, whether kept figures and fragments are forgotten before each request)
PAGES = {
    "list": ("/referrals/", False),
    "list_nothing_kept": ("/referrals/", True),
    "admin": ("/admin/screening/referral/", False),
}
WARMUP = 3


def list_against_admin(repeat: int, requests: int = 20) -> dict:
    """Seconds per request of the list's first page, as served and with nothing kept, and of
    the admin changelist, for the same user and with as many rows a page (the admin shows 100
    unless told), taken in turn; each figure is the median over the repetitions of the median
    request."""
    model_admin = admin.site._registry[Referral]
    admin_per_page = model_admin.list_per_page
    model_admin.list_per_page = LIST_PAGE_SIZE
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(seed.users()[ROLE])

    def get(path):
        response = client.get(path, secure=True)
        if response.status_code != 200:
            raise RuntimeError(f"{path} answered {response.status_code} to the {ROLE}")

    medians = {name: [] for name in PAGES}
    try:
        for _ in range(repeat):
            for name, (path, forget) in PAGES.items():
                for _ in range(WARMUP):
                    get(path)
                seconds = []
                for _ in range(requests):
                    if forget:
                        cache.clear()
                    started = time.perf_counter()
                    get(path)
                    seconds.append(time.perf_counter() - started)
                medians[name].append(statistics.median(seconds))
    finally:
        model_admin.list_per_page = admin_per_page
    figures = {name: summary(values) for name, values in medians.items()}
    return {
        "role": ROLE,
        "rows_per_page": LIST_PAGE_SIZE,
        "requests": requests,
        "list_seconds": figures["list"],
        "nothing_kept_seconds": figures["list_nothing_kept"],
        "admin_seconds": figures["admin"],
        "ratio": figures["list"]["median"] / figures["admin"]["median"],
        "nothing_kept_ratio": figures["list_nothing_kept"]["median"] / figures["admin"]["median"],
    }
