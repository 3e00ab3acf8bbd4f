# `make run` and `make test` work on a fresh machine: they create the virtualenv and install
# what is missing themselves.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# Debian packages the project needs at run or test time:
#   chromium: browser tests (Playwright drives Debian's chromium)
#   culmus: STaM and Hebrew fonts for certificates
#   fonts-noto-core: Latin text of certificates and reports
DEBIAN_PACKAGES := chromium culmus fonts-noto-core

.PHONY: venv system-packages run test migrate bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

venv: $(STAMP)

# Installs the Debian packages above that are missing (needs apt-get and root, as on CI).
system-packages:
	@bash .ci/install-debian-packages $(DEBIAN_PACKAGES)

# Embedded defaults: SQLite, tasks in-process, demo payments, seeded campaigns.
run: export DEBUG ?= true
run: venv system-packages
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_campaigns
	$(BIN)/python manage.py runserver 127.0.0.1:8000

# PostgreSQL and Redis from DATABASE_URL/REDIS_URL, else the local servers, else throwaway ones.
test: venv system-packages
	$(BIN)/python tests/with_services.py $(BIN)/python -m pytest $(PYTEST_ARGS)

bench: venv
	$(BIN)/python tests/with_services.py $(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache
