# Every target installs what it needs into .venv first, so a clean clone needs only Python.
VENV ?= .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install extras llm run test test-fast test-wheel lint bench eval eval-quick browser clean FORCE

$(BIN)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# CPU torch first: a bare torch requirement would pull a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	# strict: a tree of links under build/, which mypy reads as the installed `newsrag` package.
	$(BIN)/pip install -q -e '.[dev]' --config-settings editable_mode=strict
	touch $@

# The strict editable install links each file of the package: re-link when files are added,
# moved or removed (the list is rewritten only when it changes, so this costs nothing otherwise).
PACKAGE_FILES := $(shell find src index rag ui eval data -type f -not -path '*/__pycache__/*' 2>/dev/null | sort)

$(VENV)/.package-files: FORCE | $(BIN)/.installed
	@echo '$(PACKAGE_FILES)' | cmp -s - $@ || echo '$(PACKAGE_FILES)' > $@

$(VENV)/.linked: $(BIN)/.installed $(VENV)/.package-files
	$(BIN)/pip install -q --no-deps -e . --config-settings editable_mode=strict
	touch $@

install: $(VENV)/.linked

# The tests also run a real local LLM and Milvus Lite, the optional extras: llama-cpp-python builds
# from source (about 4 minutes on 2 cores; pip keeps the built wheel in its cache for the next run).
# `make run` needs neither.
$(BIN)/.extras: pyproject.toml | $(VENV)/.linked
	$(BIN)/pip install -q -e '.[dev,llama-cpp,milvus]' --config-settings editable_mode=strict
	touch $@

extras: $(BIN)/.extras
llm: extras

# The browser tests drive Debian's Chromium; install it when missing (needs root, as CI has).
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

run: install
	$(BIN)/newsrag serve

test: install extras browser
	$(BIN)/python -m pytest -q -m "not slow"
	$(BIN)/python -m pytest -q -m slow || [ $$? -eq 5 ]

test-fast: install extras
	$(BIN)/python -m pytest -q -m "not slow" --deselect tests/ui/test_browser.py

# The README's install path without a clone: build the wheel, install it (CPU torch first, no
# extras) into a fresh venv in a temp folder, then ingest, ask and eval from outside the checkout.
test-wheel:
	bash .ci/wheel-test

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: install
	$(BIN)/newsrag bench

eval: install
	$(BIN)/newsrag eval

eval-quick: install
	$(BIN)/newsrag eval --quick

clean:
	rm -rf .newsrag eval-reports test-artifacts .pytest_cache
