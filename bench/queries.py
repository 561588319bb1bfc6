"""Database queries per page, counted in-process with Django's test client.

``bench.run`` runs this (``python -m bench.job queries``) against the 1,000-referral database
and the N-referral one and compares: a count that grows with the rows is an N+1.
"""

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bench import pages, seed


def count_queries() -> dict:
    """Page name -> {"status": HTTP status, "queries": count}; both None when the app has no
    view for the page."""
    users = seed.users()
    clients = {}

    def client_for(page):
        if page.role not in clients:
            client = Client(HTTP_HOST="127.0.0.1")
            if page.role:
                client.force_login(users[page.role])
            clients[page.role] = client
        return clients[page.role]

    def get(page, path):
        response = client_for(page).get(path, secure=True)
        if response.streaming:
            for _chunk in response.streaming_content:
                pass
        return response

    def html(page, path):
        return get(page, path).content.decode()

    found = {}
    concrete = pages.paths(html)
    targets = [(page, concrete[page.name]) for page in pages.PAGES]
    targets.append((pages.EXPORT, pages.EXPORT.path))
    for page, path in targets:
        if not pages.exists(path):
            found[page.name] = {"status": None, "queries": None}
            continue
        # A first request fills per-process caches (content types, ...); the export's client
        # is warm from the CONSORT page already, and one more export at N rows takes long.
        if page is not pages.EXPORT:
            get(page, path)
        with CaptureQueriesContext(connection) as captured:
            response = get(page, path)
        found[page.name] = {"status": response.status_code, "queries": len(captured)}
    return found
