"""The bench's steps that run in a child process against another database.

``python -m bench.job seed N`` seeds the (migrated, empty) database of DATABASE_URL;
``python -m bench.job queries`` counts each page's queries there; ``python -m bench.job
import_memory FILE`` checks FILE as ``manage.py import_referrals --dry-run`` does and gives the
peak memory it took. Each prints JSON on stdout.
"""

import io
import json
import os
import sys
from pathlib import Path

import django


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trialscreen.settings")
    django.setup()
    # Models can be imported only once Django is set up.
    from bench import queries, seed

    step = argv[0]
    if step == "seed":
        result = seed.seed(int(argv[1]))
    elif step == "queries":
        result = queries.count_queries()
    elif step == "import_memory":
        from django.core.management import call_command

        call_command(
            "import_referrals", argv[1], "--dry-run", stdout=io.StringIO(), stderr=io.StringIO()
        )
        # The process's own high-water mark: getrusage's ru_maxrss keeps, across exec, the
        # peak of the bench process this one was forked from.
        status = Path("/proc/self/status").read_text()
        kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
        result = {"peak_rss_bytes": int(kib) * 1024}
    else:
        sys.exit(f"unknown step {step!r}: seed N | queries | import_memory FILE")
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1:])
