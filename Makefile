# qusi_lab — make demo | make test | make lab
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: venv demo test test-fast lint typecheck lab benchmark benchmark-qusi benchmark-browser benchmark-quality clean browser tutorials tutorials-measure binder

# Create the environment from nothing: torch (the pinned CPU wheel) first, then the project.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/qusi-lab demo --out demo_output

lint: $(STAMP)
	$(BIN)/ruff check qusi_lab tests benchmarks
	$(BIN)/python tests/check_notebooks.py
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy qusi_lab

# The browser tests drive Debian's chromium; install it when missing (root on CI), else those tests skip loudly.
browser:
	@command -v chromium >/dev/null 2>&1 || (command -v apt-get >/dev/null 2>&1 && \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) ) || \
		echo "WARNING: chromium could not be installed; the real-browser tests will be skipped"

# Unit and integration tests, then the docstring examples of the package.
test: $(STAMP) lint typecheck browser
	$(BIN)/python -m pytest tests
	$(BIN)/python -m pytest --doctest-modules qusi_lab -q
	QUSI_LAB_QUICK=1 $(BIN)/python -m pytest --nbval-lax tutorials -q
	$(MAKE) binder

# The inner loop: the unit and integration tests without those marked slow (under 3 minutes on 2 cores).
test-fast: $(STAMP)
	$(BIN)/python -m pytest tests -m "not slow" -q

# The Binder environment: binder/requirements.txt into a fresh venv, then tutorial 01 run in it.
binder:
	$(PYTHON) tests/check_binder.py

# Every tutorial notebook, in quick mode, with timings.
tutorials: $(STAMP)
	QUSI_LAB_QUICK=1 $(BIN)/python -m pytest --nbval-lax tutorials -q --durations=0

# Run the tutorials, record time, disk and quoted values in tutorials/figures.json, write them into the text.
tutorials-measure: $(STAMP)
	QUSI_LAB_OFFLINE=1 $(BIN)/python tutorials/measure.py run --mode quick
	$(BIN)/python tutorials/measure.py render

lab: $(STAMP)
	$(BIN)/jupyter lab tutorials

# Benchmarks print markdown tables (ratios against a baseline of the same run) and collect them in the
# ignored benchmarks/results/; nothing tracked is written. `make benchmark` is offline; the rest is opt-in.
benchmark: $(STAMP)
	$(BIN)/python benchmarks/run_benchmarks.py

# qusi itself side by side: the first run installs PyPI qusi into ../qusi_venv (~20 min), then 12-22 min.
benchmark-qusi: $(STAMP)
	$(BIN)/python benchmarks/bench_vs_qusi.py

# The vetting panel in Voila and headless Chromium.
benchmark-browser: $(STAMP) browser
	$(BIN)/python benchmarks/bench_vetting_browser.py

# What a network trained with the defaults finds in the synthetic sector (~13 min).
benchmark-quality: $(STAMP)
	$(BIN)/python benchmarks/quality.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache demo_output tutorials/_data
