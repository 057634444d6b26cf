# Two commands do all the set-up on a fresh machine: `make demo` (the main job) and `make test`.
# Both build .venv, installing the CPU PyTorch build first: a plain `torch` requirement pulls a CUDA build.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TORCH := torch==2.13.0

.PHONY: demo test lint test-slow bench clean browser readme-tables lerobot-env

# The optional extras pusht (gym-pusht, zarr), ray, deploy (onnx, onnxruntime) and metaworld are installed too, so their tests
# run instead of skipping.
$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[dev,pusht,ray,deploy,metaworld,teleop]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/imitlab demo --out runs/demo

# The result tables of README.md and docs/ between <!-- results ... --> markers, refilled from the finished runs they
# name (runs/demo after `make demo`, ...); a table whose runs are missing is kept and reported.
readme-tables: $(STAMP)
	$(BIN)/python -m imitlab.studies.readme README.md docs/dagger.md docs/studies.md docs/heads.md docs/environments.md

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

# LeRobot lives in a side environment (it pins its own torch and imports torchvision, whose wheels do not import
# beside our CPU torch): the live round trip of tests/data/test_lerobot_live.py and the LeRobot rows of the
# benchmarks run against it. FFmpeg's shared libraries are what LeRobot's default video decoder (torchcodec) loads.
LEROBOT_VENV := .lerobot-venv
lerobot-env: $(LEROBOT_VENV)/.installed
$(LEROBOT_VENV)/.installed:
	$(PYTHON) -m venv $(LEROBOT_VENV)
	$(LEROBOT_VENV)/bin/python -m pip install --quiet lerobot==0.4.4
	@command -v ffmpeg >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  { apt-get install -y -q ffmpeg >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && \
	    apt-get install -y -q ffmpeg >/dev/null 2>&1; }; }; } || echo "ffmpeg could not be installed: LeRobot decodes with pyav"
	touch $@

test-slow: $(STAMP) lerobot-env
	$(BIN)/python -m pytest -q -m slow

bench: $(STAMP)
	for f in benchmarks/*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) runs
