# Eval Hub — one command to run the hub, one to run every check.
PYTHON ?= python3
PORT ?= 8000
HOST ?= 127.0.0.1
EVALHUB_HOME ?= $(HOME)/.evalhub
VENV := .venv
BIN := $(VENV)/bin
SAM_VENV := .sam-venv
export EVALHUB_HOME

.PHONY: run test lint types sam-lint sam-build pytest bench clean install install-dev

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamps re-run the install whenever pyproject.toml changes.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[runner]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed-run

$(SAM_VENV)/.installed: | $(BIN)/python
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/pip install --quiet aws-sam-cli cfn-lint
	touch $@

install: $(VENV)/.installed-run
install-dev: $(VENV)/.installed-dev

## run: serve the hub on http://$(HOST):$(PORT)/api/v1 with state under $(EVALHUB_HOME)
run: $(VENV)/.installed-run
	$(BIN)/evalhub serve --host $(HOST) --port $(PORT)

## test: lint (ruff), types (mypy), template linters (cfn-lint, sam validate), sam build, then pytest
test: lint types sam-lint sam-build pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(VENV)/.installed-dev
	$(BIN)/mypy layers/common/evalhub functions/api/evalhub_api functions/dispatcher/evalhub_dispatcher containers/runner/evalhub_runner

sam-lint: $(SAM_VENV)/.installed
	$(SAM_VENV)/bin/cfn-lint template.yaml
	$(SAM_VENV)/bin/sam validate --lint --template template.yaml --region us-east-1

# sam build needs the Lambda runtime's python3.12 on PATH; pyenv provides it beside the default 3.11.
sam-build: $(SAM_VENV)/.installed
	PYENV_VERSION=$${PYENV_VERSION:-3.11.7:3.12.1} $(SAM_VENV)/bin/sam build --template template.yaml

pytest: $(VENV)/.installed-dev
	$(BIN)/pytest -q $(PYTEST_ARGS)

bench: $(VENV)/.installed-dev
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .mypy_cache .ruff_cache .pytest_cache
