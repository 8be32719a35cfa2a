# patchloop: `make run` opens the app, `make test` runs the tests; both set everything up first.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
# Installed first so the resolver keeps it. scripts/torch-spec.sh picks the build: the CPU one
# (PyTorch's CPU index) on Linux without a GPU unless pip's own sources already hold one, else
# PyPI's (CUDA on Linux); TORCH_BUILD=cpu|gpu overrides the detection.
TORCH ?= torch==2.13.0
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
# ESLint and its security plug-ins for JavaScript (core/analyzers/eslint.py), pinned by the lock file.
ESLINT := tools/eslint/node_modules/.package-lock.json

.PHONY: setup run test test-fast lint sample bench clean-venv

setup: $(STAMP) $(ESLINT)

$(STAMP): pyproject.toml scripts/check-python.sh scripts/torch-spec.sh scripts/install-system-deps.sh scripts/build-llama-wheel.sh
	sh scripts/check-python.sh $(PYTHON)
	bash scripts/install-system-deps.sh
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install $$(bash scripts/torch-spec.sh $(PY) "$(TORCH)")
	$(PY) -m pip install -e .
	# The llama.cpp engine (GGUF on the CPU): compiled once (10-25 min on 2 cores) into a wheel cache
	# outside the repo, then reused; a failed build only warns (GGUF models then run on transformers).
	bash scripts/build-llama-wheel.sh $(PY)
	touch $(STAMP)

# npm ci installs exactly the lock file's versions; without npm it only warns (JavaScript analysis is
# then an analyzer error naming this step).
$(ESLINT): tools/eslint/package.json tools/eslint/package-lock.json | $(STAMP)
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --omit=dev --no-audit --no-fund --prefix tools/eslint && touch $(ESLINT); \
	else \
		echo "warning: npm is not installed; ESLint (JavaScript analysis) is not set up" >&2; \
	fi

run: setup
	$(VENV)/bin/patchloop

sample: setup
	$(VENV)/bin/patchloop run "Write a function that returns the sum of the positive numbers in a list"

# The test-only extras (pytest, a model server, the SARIF schema) only for the test targets.
$(DEV_STAMP): $(STAMP)
	$(PY) -m pip install -e '.[dev]'
	touch $(DEV_STAMP)

test: setup $(DEV_STAMP)
	$(PY) -m pytest

# For development: everything but the end-to-end tests on the real model (marker e2e).
test-fast: setup $(DEV_STAMP)
	$(PY) -m pytest -m "not e2e"

# The shape stays: ruff's rules and format, and the type checker over the package ([tool.basedpyright]).
lint: setup $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	sh scripts/typecheck-tree.sh
	$(VENV)/bin/basedpyright

bench: setup
	$(PY) benchmarks/bench_model.py
	$(PY) benchmarks/bench_analyzers.py

clean-venv:
	rm -rf $(VENV)
