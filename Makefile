# Two commands for a fresh clone with only python3: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app wsgi
# One stamp per requirements set, named after the files' checksums: editing a file re-installs.
STAMP     := $(VENV)/.installed-run-$(shell cat requirements.txt | cksum | cut -d' ' -f1)
DEV_STAMP := $(VENV)/.installed-dev-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
HOST   ?= 127.0.0.1
PORT   ?= 5000
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/test
REDIS_TEST_URL ?= redis://127.0.0.1:6379/15
# `make run` serves here, so absolute links in feeds point at it (see PUBLIC_BASE_URL in README).
export PUBLIC_BASE_URL ?= http://$(HOST):$(PORT)

.PHONY: setup setup-dev run demo test test-pg test-redis test-browser browser-deps test-all ci screenshot serve bench clean

## Runtime dependencies only (requirements.txt).
setup: $(STAMP)

## Runtime dependencies and the test tools (requirements-dev.txt).
setup-dev: $(DEV_STAMP)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): requirements.txt | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-run-* && touch $@

$(DEV_STAMP): requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	rm -f $(VENV)/.installed-dev-* && touch $@

# Demo values for the footer of `make run` / `make serve` (portal/config.py SITE_*); the
# environment wins, and a real deployment sets its own or leaves them out.
run serve: export SITE_SPONSOR ?= 民权县市场监督管理局（演示）
run serve: export SITE_CONTACT ?= 电话 0370-0000000 · 民权县人民路 1 号（演示）
run serve: export SITE_ICP_RECORD ?= 豫ICP备00000000号-1（演示）
run serve: export SITE_PSB_RECORD ?= 豫公网安备41142100000000号（演示）

## Set up, create the database, load demo data (first time only) and serve on 127.0.0.1:5000.
run: setup
	$(FLASK) db upgrade
	$(FLASK) demo load --if-empty
	$(FLASK) run --host $(HOST) --port $(PORT)

## Like `make run`, but under gunicorn (several workers; see gunicorn.conf.py).
serve: setup
	$(FLASK) db upgrade
	$(FLASK) demo load --if-empty
	GUNICORN_BIND=$(HOST):$(PORT) $(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

demo: setup
	$(FLASK) db upgrade
	$(FLASK) demo load

## Set up (runtime + test tools) and run the test suite on SQLite (browser tests excluded; see test-browser).
test: setup-dev
	$(BIN)/python -m pytest -m "not browser"

test-pg: setup-dev
	TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/python -m pytest -m "not browser"

## Rate-limit, sign-in, deployment-guide and two-host tests with Redis (REDIS_TEST_URL) and PostgreSQL (PG_TEST_URL).
test-redis: setup-dev
	TEST_REDIS_URL=$(REDIS_TEST_URL) TEST_DATABASE_URL=$(PG_TEST_URL) \
	    $(BIN)/python -m pytest -m "not browser" tests/test_limits.py tests/test_signin.py tests/test_deploy.py \
	    tests/test_two_hosts.py

## Browser tests; first installs the pinned test-only npm packages (axe-core) into tests/browser/node_modules.
test-browser: setup-dev browser-deps
	$(BIN)/python -m pytest -m browser

browser-deps: tests/browser/node_modules/.package-lock.json

tests/browser/node_modules/.package-lock.json: tests/browser/package.json tests/browser/package-lock.json
	npm ci --prefix tests/browser --no-audit --no-fund

test-all: test test-pg test-redis test-browser

## What CI runs: SQLite, PostgreSQL, then the browser tests (installs chromium when missing).
ci:
	.ci/run

## Regenerate docs/screenshot.png from the demo data.
screenshot: setup-dev
	$(BIN)/python docs/make_screenshot.py

bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) instance .pytest_cache tests/browser/node_modules
