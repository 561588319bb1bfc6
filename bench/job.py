"""The bench's steps that run in a child process against another database.

``python -m bench.job seed N`` seeds the (migrated, empty) database of DATABASE_URL;
``python -m bench.job queries`` counts each page's queries there. Each prints JSON on stdout.
"""

import json
import os
import sys

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
    else:
        sys.exit(f"unknown step {step!r}: seed N | queries")
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1:])
