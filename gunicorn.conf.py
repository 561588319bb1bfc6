"""gunicorn settings for TrialScreen (``make serve``; see docs/deploy.md)."""

import gc
import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
wsgi_app = "trialscreen.wsgi:application"
timeout = 120  # large exports stream for a while
# Paths without query strings: a search for a patient's name must not reach the access log.
accesslog = "-"
access_log_format = '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(B)s %(L)ss'
# Control characters in a decoded path (%0A) are escaped: no forged lines in the access log.
logger_class = "trialscreen.gunicorn_logging.AccessLogger"
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def post_worker_init(worker):
    """Django is loaded and stays for the worker's life: frozen, the garbage collector no
    longer walks it, which paused a worker for about 65 ms every few hundred requests."""
    gc.freeze()
