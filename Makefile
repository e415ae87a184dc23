# Two set-up commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install demo test lint typecheck check bench lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The lock pins every package by version and hash; the project itself goes in editable.
$(STAMP): $(BIN)/python requirements.lock pyproject.toml
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/personalize demo

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

check: lint typecheck test

bench: install
	$(BIN)/python bench/ingest_http.py

# Re-resolve the locks after changing dependencies in pyproject.toml: requirements.lock with
# the dev tools (make install, CI), requirements-runtime.lock without them (the Docker image),
# the second at the versions the first chose.
lock: $(BIN)/python
	$(BIN)/pip install --quiet pip-tools
	$(BIN)/pip-compile --quiet --generate-hashes --extra dev --strip-extras --allow-unsafe \
		-o requirements.lock pyproject.toml
	cp requirements.lock requirements-runtime.lock
	$(BIN)/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe \
		-o requirements-runtime.lock pyproject.toml
	sed -i '/^--extra-index-url/d; /^--find-links/d' requirements.lock requirements-runtime.lock

clean:
	rm -rf $(VENV) .personalize .pytest_cache .mypy_cache .ruff_cache
