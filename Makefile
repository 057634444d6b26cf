# Two commands do all the set-up on a fresh machine: `make demo` (the main job) and `make test`.
# Both build .venv, installing the CPU PyTorch build first: a plain `torch` requirement pulls a CUDA build.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TORCH := torch==2.13.0

.PHONY: demo test lint test-slow bench clean browser

# The optional extras pusht (gym-pusht, zarr) and ray are installed too, so their tests run instead of skipping.
$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[dev,pusht,ray]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/imitlab demo --out runs/demo

test: lint browser
	$(BIN)/python -m pytest -q -m "not slow"

# ruff (lint + format), import-linter (the layers in pyproject: lower layers never import higher ones), mypy (types;
# settings in pyproject).
lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/mypy

# The report test renders the HTML in headless Chromium; install the Debian package when we can (root + apt),
# otherwise that one test is skipped and says why.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  { apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && \
	    apt-get install -y -q chromium >/dev/null 2>&1; }; }; } || \
	  echo "chromium could not be installed: the report-rendering test will be skipped"

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

bench: $(STAMP)
	for f in benchmarks/*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) runs
