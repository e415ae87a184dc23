# Two set-up commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
README_SHOTS := queue draft search customer trends results
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install browser demo test lint typecheck check bench screenshots models lock clean

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

test: install browser
	$(BIN)/python -m pytest

# The console's browser tests drive Debian's Chromium (Playwright's own download cannot work
# offline): installed here when missing and we are root; otherwise the README says how.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "installing Debian's chromium for the console's browser tests"; \
			apt-get install -y -q chromium >/dev/null 2>&1 || \
				{ apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; \
		else \
			echo "no /usr/bin/chromium: install it (sudo apt-get install chromium) for the browser tests"; \
		fi; \
	fi

# The README's pictures of the console: the browser tests take them, this keeps the main ones.
screenshots: install browser
	$(BIN)/python -m pytest -q tests/console -k browser
	mkdir -p docs/console
	cp $(addprefix build/screenshots/,$(addsuffix .png,$(README_SHOTS))) docs/console/

# The learned parts, rebuilt from training/ (seeded, identical on every run): the fact
# scorer (~30 s) and the query side of search (~1 min).
models: install
	$(BIN)/python -m engine.facts.train_scorer
	$(BIN)/python -m embeddings.query_model train

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
	rm -rf $(VENV) .personalize .pytest_cache .mypy_cache .ruff_cache build
