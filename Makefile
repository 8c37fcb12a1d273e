# Two commands for a fresh clone with only python3: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app wsgi
STAMP  := $(VENV)/.installed-$(shell cksum < requirements.txt | cut -d' ' -f1)
HOST   ?= 127.0.0.1
PORT   ?= 5000
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: setup run demo test test-pg test-browser test-all ci screenshot serve bench clean

setup: $(STAMP)

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-* && touch $@

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

## Set up and run the test suite on SQLite (browser tests excluded; see test-browser).
test: setup
	$(BIN)/python -m pytest -m "not browser"

test-pg: setup
	TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/python -m pytest -m "not browser"

test-browser: setup
	$(BIN)/python -m pytest -m browser

test-all: test test-pg test-browser

## What CI runs: SQLite, PostgreSQL, then the browser tests (installs chromium when missing).
ci:
	.ci/run

## Regenerate docs/screenshot.png from the demo data.
screenshot: setup
	$(BIN)/python docs/make_screenshot.py

bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) instance .pytest_cache
