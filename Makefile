# Two commands do everything on a fresh machine:
#   make sync   set up .venv if needed, then run the main job (a full sync) as the demo:
#               the bundled simulator serves the tenants (askpro-demo, askpro_simulator/)
#   make test   set up .venv if needed, then run the tests
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
UI_STAMP := $(VENV)/.ui-deps-stamp

.PHONY: install sync test dev validate lint format

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# The UI test drives Debian's Chromium through Playwright (apt-get chromium; no browser download).
$(UI_STAMP): $(STAMP) scripts/install-ui-test-deps
	scripts/install-ui-test-deps $(VENV)
	touch $(UI_STAMP)

install: $(STAMP)

sync: $(STAMP)
	$(BIN)/askpro-demo sync $(ARGS)

test: $(UI_STAMP)
	$(BIN)/python -m pytest $(ARGS)

# Lint (ruff), format check (ruff format) and types (mypy, strict on askpro_pipelines); .ci/run runs it.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Rewrites files: ruff's formatter, then the fixable lint findings.
format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

validate: $(STAMP)
	$(BIN)/dagster definitions validate -w workspace.yaml

# The instance `askpro sync` records in: $DAGSTER_HOME, else $ASKPRO_DATA_DIR/dagster_home (./.askpro);
# `askpro instance prepare` creates or repairs it and prints its directory (one definition, in Python).
dev: $(STAMP)
	DAGSTER_HOME=$$($(BIN)/askpro instance prepare) && export DAGSTER_HOME && \
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000
