# The few verbs people type. `make run` and `make test` are the README's Quick start.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-postgres test-multinode chromium lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when the dependencies change.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/deflect serve

# The admin console's browser tests drive Debian's Chromium (never a downloaded browser build).
CHROMIUM ?= $(shell command -v chromium 2>/dev/null || echo /usr/bin/chromium)
chromium:
	$(if $(wildcard $(CHROMIUM)),@true,$(error Chromium not found at $(CHROMIUM): install Debian's package chromium (apt-get install chromium); the browser tests never skip))

test: $(STAMP) chromium
	CHROMIUM="$(CHROMIUM)" $(BIN)/python -m pytest $(PYTEST_ARGS)

# The same suite on PostgreSQL (default: the local server, database `test`).
test-postgres: $(STAMP) chromium
	CHROMIUM="$(CHROMIUM)" TEST_DATABASE_URL=$${TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test} \
		$(BIN)/python -m pytest $(PYTEST_ARGS)

# Several nodes through a Redis failover (tests/multinode): minutes long, so not part of `make test`.
test-multinode: $(STAMP)
	TEST_DATABASE_URL=$${TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test} \
		$(BIN)/python -m pytest -m multinode tests/multinode $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check gateway tests bench
	$(BIN)/ruff format --check gateway tests bench
	$(BIN)/mypy gateway
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python -m bench.webhooks
	$(BIN)/python -m bench.wait_loop
	$(BIN)/python -m bench.accept_latency
	$(BIN)/python -m bench.sms_throughput
	$(BIN)/python -m bench.reference_extraction
	$(BIN)/python -m bench.pumping
	$(BIN)/python -m bench.edge
	$(BIN)/python -m bench.attack_replay
	$(BIN)/python -m bench.content_propagation
	$(BIN)/python -m bench.console_pages
	$(BIN)/python -m bench.reports

clean:
	rm -rf $(VENV) .cache var
