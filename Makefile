# `make run` and `make test` work as root on a fresh Debian machine that has only python3.11:
# `setup` makes .venv, installs the project when pyproject.toml changed, and installs the
# Debian packages WeasyPrint and the Chinese forms need, only when they are missing.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
FLASK := $(BIN)/flask --app app
DEBS := fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0
# The browser tests' Chromium and poppler's pdftotext, installed by `make test` only.
TEST_DEBS := chromium poppler-utils
# The printed forms' fonts, built from Debian's Noto Sans CJK SC (fonts-noto-cjk).
FONTS := reports/static/fonts/CampusSans-Regular.ttf reports/static/fonts/CampusSans-Bold.ttf
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
PYTEST_ARGS ?=

.PHONY: help setup debs test-debs fonts run test bench vendor-js

help:
	@echo "make run    set up, migrate, load demo data, serve http://127.0.0.1:5000"
	@echo "make test   set up, then ruff, import-linter and pytest (PYTEST_ARGS=...)"
	@echo "make bench  set up, then python bench/ledger.py, engine.py, web.py, api.py, pdf.py, load.py"

setup: debs $(STAMP) fonts

fonts: $(FONTS)

$(FONTS) &: reports/fontbuild.py | $(STAMP)
	$(BIN)/python -m reports.fontbuild

debs:
	@missing=""; \
	for pkg in $(DEBS); do \
	  dpkg -s "$$pkg" 2>/dev/null | grep -q '^Status: install ok installed' \
	    || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y --no-install-recommends $$missing; \
	fi

test-debs:
	@$(MAKE) --no-print-directory debs DEBS="$(TEST_DEBS)"

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "python3.11 not found" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV) || { \
	  rm -rf $(VENV); \
	  $(SUDO) apt-get update; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y python3-venv; \
	  $(PYTHON) -m venv $(VENV); }

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e '.[dev]'
	touch $@

run: setup
	$(FLASK) db upgrade
	$(FLASK) demo load
	$(FLASK) run --host 127.0.0.1 --port 5000

test: setup test-debs
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/pytest $(PYTEST_ARGS)

bench: setup
	$(BIN)/python bench/ledger.py
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/web.py
	$(BIN)/python bench/api.py
	$(BIN)/python bench/pdf.py
	$(BIN)/python bench/load.py

# Copy the JavaScript pinned in package.json (bpmn-js, swagger-ui-dist) into app/static/vendor/
# (needs node and npm); the copy is committed, so running the app needs neither.
vendor-js:
	sh scripts/vendor_js.sh
