# Two commands on a fresh machine: `make run` serves the API, `make test` checks everything.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install browser run test lint format docs bench bench-quick bench-engine \
	bench-non-voters bench-webhooks bench-simulate bench-replay clean

$(STAMP): setup.py pyproject.toml examples/backfeed-contract-quadratic/setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24" "setuptools>=65,<81" wheel
	$(BIN)/pip install --quiet -e ".[test,docs]"
	$(BIN)/pip install --quiet -e examples/backfeed-contract-quadratic
	touch $(STAMP)

install: $(STAMP)

# The dashboard's browser tests (tests/browser) drive Debian's Chromium; install it when it is
# missing and we may (as root), else say so: those tests then skip, or fail under CI=true.
CHROMIUM ?= /usr/bin/chromium
browser:
	@if [ ! -x $(CHROMIUM) ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
		else \
			echo "no $(CHROMIUM): install Debian's chromium package for tests/browser"; \
		fi; \
	fi

run: $(STAMP)
	$(BIN)/pserve development.ini

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The whole suite in parallel (pytest-xdist): each worker has a PostgreSQL database of its
# own (tests/conftest.py), and a test file runs on one worker, so that its module fixtures
# (the built docs, the served applications) are made once.
TEST_WORKERS ?= auto
test: lint browser
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

docs: $(STAMP)
	$(BIN)/sphinx-build -W -b html docs docs/_build/html

# The suite over HTTP against PostgreSQL (docs/performance.rst); about ten minutes.
bench: $(STAMP)
	$(BIN)/python -m bench

bench-quick: $(STAMP)
	$(BIN)/python -m bench --quick

# A whitepaper1 vote in a community of 1,000 users and of 100,000 (docs/performance.rst).
bench-non-voters: $(STAMP)
	$(BIN)/python -m bench.non_voters

# The scoring engine alone, in memory.
# The outbox's cost on a vote and the webhook delivery latency, p50 and p99.
bench-webhooks: $(STAMP)
	$(BIN)/python -m bench.webhooks

bench-engine: $(STAMP)
	$(BIN)/python -m bench.engine

# backfeed simulate at 10,000 users and 100,000 evaluations, and --jobs (a few minutes).
bench-simulate: $(STAMP)
	$(BIN)/python -m bench.simulate

# backfeed replay of a contract of 1,000,000 actions seeded in PostgreSQL (a few minutes).
bench-replay: $(STAMP)
	$(BIN)/python -m bench.replay

clean:
	rm -rf $(VENV) build docs/_build *.egg-info
