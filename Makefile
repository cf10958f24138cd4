# Two entry points, each bootstrapping what it needs on a fresh machine:
#   make demo   run the main job on an embedded sample
#   make test   lint, type-check, check the layers, run the tests
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# uv installs several times faster than pip; it is itself installed with pip into the venv.
INSTALL := $(BIN)/uv pip install --python $(BIN)/python --quiet

.PHONY: demo dagster-demo stream-demo test lint bench clean

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv

# the demo needs only the core package; extras are installed by the targets that use them
$(VENV)/.installed-core: pyproject.toml | $(BIN)/uv
	$(BIN)/uv pip install --python $(BIN)/python -e .
	touch $@

$(VENV)/.installed-dagster: pyproject.toml | $(BIN)/uv
	$(BIN)/uv pip install --python $(BIN)/python -e '.[dagster]' 'dagster-webserver>=1.9'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/uv
	$(INSTALL) -e '.[dev]'
	touch $@

demo: $(VENV)/.installed-core
	$(BIN)/datacanary demo

# materializes the example Dagster project for 14 days with injected incidents; no server
dagster-demo: $(VENV)/.installed-dagster
	$(BIN)/python -m examples.dagster_project.demo

# starts a local Kafka-protocol broker (Tansu, a dev dependency) and streams sample events
stream-demo: $(VENV)/.installed-dev
	$(BIN)/python -c "from datacanary.stream import stream_demo; stream_demo()"

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	sh .ci/ensure-java.sh
	$(BIN)/pytest

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/odds.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache datacanary-demo
