# Parley: `make run` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The dashboard's front-end files, from the npm registry as package-lock.json pins them.
VENDOR := web/static/vendor
ASSETS := $(VENDOR)/.installed

.PHONY: run test lint typecheck bench install assets screenshots clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

$(ASSETS): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	mkdir -p $(VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js node_modules/htmx-ext-sse/dist/sse.min.js $(VENDOR)/
	touch $(ASSETS)

assets: $(ASSETS)

install: $(STAMP) $(ASSETS)

run: $(STAMP) $(ASSETS)
	$(BIN)/parley migrate
	$(BIN)/parley demo
	$(BIN)/parley serve

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy domain commands projections queries web workers migrations tests bench

test: $(ASSETS) lint typecheck
	$(BIN)/pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.audience
	$(BIN)/python -m bench.messages
	$(BIN)/python -m bench.inbox
	$(BIN)/python -m bench.inbox_page
	$(BIN)/python -m bench.live
	$(BIN)/python -m bench.reactions
	$(BIN)/python -m bench.dashboard
	$(BIN)/python -m bench.activity
	$(BIN)/python -m bench.widget
	$(BIN)/python -m bench.bulk

screenshots: $(STAMP) $(ASSETS)
	$(BIN)/python docs/screenshots.py
	$(BIN)/python docs/widget_screenshots.py

clean:
	rm -rf $(VENV) var build *.egg-info node_modules $(VENDOR)
