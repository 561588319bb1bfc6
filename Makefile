# TrialScreen: `make run` serves the app with demo data, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Tests and tools run with DEBUG off; they need a key, never a production one.
TEST_ENV := SECRET_KEY=test-only-not-secret

.PHONY: run test lint format e2e bench serve stopdb messages clean

$(VENV)/installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

run: $(VENV)/installed
	DEBUG=true $(PY) manage.py migrate --noinput
	DEBUG=true $(PY) manage.py load_demo
	DEBUG=true $(PY) manage.py runserver 127.0.0.1:8000

test: $(VENV)/installed
	$(TEST_ENV) $(PY) -m pytest

# The browser journeys only; they need Chromium (apt-get install chromium) and write
# full-page screenshots to e2e-screenshots/.
e2e: $(VENV)/installed
	$(TEST_ENV) $(PY) -m pytest tests/e2e

lint: $(VENV)/installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(TEST_ENV) $(PY) manage.py makemigrations --check --dry-run
	$(TEST_ENV) $(PY) manage.py check

format: $(VENV)/installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Re-extract the translatable strings into locale/ and compile them; translate the new
# entries in the .po before committing both files (tests/test_translations.py checks them).
MESSAGES_IGNORE := --ignore=.venv --ignore=var --ignore=static/vendor --ignore=staticfiles --ignore=bench
messages: $(VENV)/installed
	$(TEST_ENV) $(PY) manage.py makemessages --locale=zh_Hans --no-obsolete $(MESSAGES_IGNORE)
	$(TEST_ENV) $(PY) manage.py compilemessages --locale=zh_Hans $(MESSAGES_IGNORE)

# Production-style server against the configured database (needs SECRET_KEY and
# ALLOWED_HOSTS; see docs/deploy.md).
serve: $(VENV)/installed
	$(PY) manage.py collectstatic --noinput
	$(PY) manage.py migrate --noinput
	$(VENV)/bin/gunicorn --config gunicorn.conf.py

# Seeds its own database (trialscreen_bench, never the app's) with BENCH_N referrals,
# default 100,000, and measures each job against its physical limit (docs/performance.md).
# The project's modules are compiled first, as an installed app keeps them: where
# PYTHONDONTWRITEBYTECODE is set, each command the bench times would compile them again.
bench: $(VENV)/installed
	$(PY) -m compileall -q screening trialscreen bench
	$(PY) -m bench

stopdb:
	-$(PY) -c "import pathlib, trialscreen.embedded_db as db; db.stop_server(pathlib.Path('.'))"

clean: stopdb
	rm -rf $(VENV) var staticfiles
