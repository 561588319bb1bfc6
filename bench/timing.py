"""Page latency and throughput over HTTP, each page within a time box.

A page that takes seconds would otherwise hold the bench for many minutes at 50 requests a
repetition; its figure is plain from a few requests, and the table says how many were made.
"""

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from importlib import import_module

from django.conf import settings

from bench import pages
from bench.server import WORKERS
from bench.stats import percentile, summary
from trialscreen import accounts

PAGE_TIME_BOX = 6.0  # seconds of timed requests per page and repetition
MIN_REQUESTS = 3
SLOW_PAGE = 1.0  # seconds: a page this slow is timed in one repetition only


def time_pages(server, concrete: dict, cookies: dict, options) -> dict:
    """Median and p95 latency of sequential requests and throughput with one client per
    gunicorn worker, per page; each figure the median over the repetitions."""
    samples = {
        page.name: {"medians": [], "p95s": [], "rates": [], "requests": [], "statuses": set()}
        for page in pages.PAGES
    }
    for repetition in range(options.repeat):
        for page in pages.PAGES:
            path = concrete[page.name]
            sample = samples[page.name]
            if not pages.exists(path):
                continue
            if repetition and sample["medians"][0] > SLOW_PAGE:
                continue
            _time_page(server, path, cookies.get(page.role, ""), options, sample)
    timed = {}
    for page in pages.PAGES:
        sample = samples[page.name]
        if not sample["medians"]:
            timed[page.name] = {"path": concrete[page.name], "missing": True}
            continue
        timed[page.name] = {
            "path": concrete[page.name],
            "missing": False,
            "statuses": sorted(sample["statuses"]),
            "requests": sample["requests"],
            "time_boxed": min(sample["requests"]) < options.requests
            or len(sample["requests"]) < options.repeat,
            "median_seconds": summary(sample["medians"]),
            "p95_seconds": summary(sample["p95s"]),
            "requests_per_second": summary(sample["rates"]),
        }
    ceiling = timed[pages.HEALTHZ]["requests_per_second"]["median"]
    for figures in timed.values():
        if not figures["missing"]:
            figures["throughput_of_healthz"] = figures["requests_per_second"]["median"] / ceiling
    return timed


def _renewed(cookie: str) -> None:
    """Renew the session of ``cookie`` now, as a request a minute after the last renewal does
    (``trialscreen.accounts.SessionRenewalMiddleware``). Its commit then comes before the page's
    warm-up requests, not within the fraction of a second the throughput is measured over,
    where it would make each worker draw every kept part of the page afresh (the CONSORT page,
    half a second of counting)."""
    if not cookie:
        return
    store = import_module(settings.SESSION_ENGINE).SessionStore(cookie.split("=", 1)[1])
    store[accounts.SESSION_RENEWED_AT] = int(time.time())
    store.save()


def _time_page(server, path: str, cookie: str, options, sample: dict) -> None:
    _renewed(cookie)
    warmups = []
    for _ in range(max(1, options.warmup)):
        warmups.append(_timed_get(server, path, cookie, sample))
        if sum(warmups) > PAGE_TIME_BOX / 4:
            break
    typical = statistics.median(warmups)
    requests = max(MIN_REQUESTS, min(options.requests, int(PAGE_TIME_BOX / typical)))
    # Back-to-back requests may all reach one worker; the throughput's clients reach every
    # worker, and one that had not served the page since the last commit would draw its kept
    # parts afresh inside the measured fraction of a second.
    _throughput(server, path, cookie, 4 * WORKERS)
    latencies = [_timed_get(server, path, cookie, sample) for _ in range(requests)]
    sample["requests"].append(requests)
    sample["medians"].append(statistics.median(latencies))
    sample["p95s"].append(percentile(latencies, 0.95))
    sample["rates"].append(_throughput(server, path, cookie, max(WORKERS, requests // 2)))


def _timed_get(server, path: str, cookie: str, sample: dict) -> float:
    started = time.perf_counter()
    status, _body = server.get(path, cookie=cookie)
    seconds = time.perf_counter() - started
    sample["statuses"].add(status)
    return seconds


def _throughput(server, path: str, cookie: str, requests: int) -> float:
    """Requests per second with one client per gunicorn worker, each sending its share of
    ``requests`` back to back."""
    per_client = max(1, requests // WORKERS)

    def client(_index):
        for _ in range(per_client):
            server.get(path, cookie=cookie)

    started = time.perf_counter()
    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(client, range(WORKERS)))
    return per_client * WORKERS / (time.perf_counter() - started)
