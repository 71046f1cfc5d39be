# Quick start: `make demo` (the example project's size tests with --image-report) and
# `make test` (the plugin's test suite). Both set up what they need; extra pytest arguments go in
# PYTEST_ARGS, e.g. `make demo PYTEST_ARGS=--image-report-json=out.json`. The engine is chosen by
# IMAGESIZE_ENGINE (scripts/with-engine): docker (default: the system engine), docker-overlay2,
# docker-containerd (Debian sid's Docker 28 with either image store) or podman, e.g.
# `IMAGESIZE_ENGINE=docker-containerd make demo`.
PYTHON ?= python3
VENV ?= .venv
PYTEST_ARGS ?=
BIN := $(VENV)/bin
# Bytecode (compiled, and assertion-rewritten by pytest) is cached under the virtualenv, never
# beside the sources, even where the environment sets PYTHONDONTWRITEBYTECODE: otherwise every
# pytest process of the suite (xdist workers, pytester subprocesses) compiles everything again.
export PYTHONPYCACHEPREFIX := $(abspath $(VENV))/pycache
unexport PYTHONDONTWRITEBYTECODE

.PHONY: demo test test-faults test-unit test-unit-newest test-podman lint docs bench venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

test: venv
	scripts/ensure-test-tools
	scripts/ensure-browser
	scripts/with-engine $(BIN)/pytest $(PYTEST_ARGS)

# The fault suite (engines killed and hung, Ctrl-C and SIGTERM, bad input, damaged baselines)
# and the Go fuzz test of damaged binaries, against the engine scripts/with-engine picks.
FAULT_TESTS = tests/test_faults_bad_input.py tests/test_faults_baseline.py tests/test_faults_engine_lost.py \
	tests/test_faults_interrupt.py tests/test_cancellation.py tests/go/test_fuzz.py
test-faults: venv
	scripts/ensure-test-tools
	scripts/with-engine $(BIN)/pytest $(FAULT_TESTS) $(PYTEST_ARGS)

# The pure logic through a fake engine: no engine, no network, a few seconds. Two xdist
# workers (UNIT_WORKERS=0 runs them in one process, e.g. to debug with --pdb). Without
# hypothesis's pytest plugin: a failing example is shown all the same, and the plugin's end-of-run
# summary would import hypothesis into the xdist controller (a second, at the end of every run).
UNIT_WORKERS ?= 2
UNIT_ARGS = tests/unit -n $(UNIT_WORKERS) --dist worksteal -p no:hypothesispytest
test-unit: venv
	$(BIN)/pytest $(UNIT_ARGS) $(PYTEST_ARGS)

# The unit tests on the newest CPython Debian ships (sid's python3), in a cached
# debootstrap root of that suite with a virtualenv of its own: neither the tree nor .venv is
# written (scripts/with-newest-python). Needs root; the first run takes a few minutes.
test-unit-newest:
	scripts/with-newest-python pytest $(UNIT_ARGS) $(PYTEST_ARGS)

# The suite against Podman's Docker-compatible API (tests of Docker's own numbers are skipped).
test-podman: venv
	scripts/ensure-test-tools
	IMAGESIZE_ENGINE=podman scripts/with-engine $(BIN)/pytest $(PYTEST_ARGS)

# Engines in a network namespace of their own cannot pull or reach the Debian mirror from inside:
# their stand-in base images are built (once; they persist in the engine's data root) by --setup.
STANDINS := --setup 'example_project/scripts/make-standins >/dev/null'

demo: venv
	scripts/with-engine $(STANDINS) example_project/run-demo $(PYTEST_ARGS)

# Side by side with docker save | wc -c, dive --ci, docker save | gzip -6 and disl; medians of
# RUNS (default 3) runs, ratios against the targets (benchmarks/analysis_bench.py).
bench: venv
	$(BIN)/python benchmarks/history_bench.py --runs $(or $(RUNS),3)
	RUNS=$(or $(RUNS),3) scripts/with-engine $(STANDINS) benchmarks/run

lint: venv
	$(BIN)/ruff check pytest_imagesize tests example_project benchmarks
	$(BIN)/ruff format --check pytest_imagesize tests example_project benchmarks
	$(BIN)/mypy
	$(BIN)/zizmor --offline --persona pedantic example_project/.github/workflows
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows example_project/.github/workflows/*.yml

# The documentation site (mkdocs.yml, docs/) into site/ (git-ignored); --strict turns every warning
# (a broken link or anchor, a page missing from the nav) into a failure. Installs the docs extra.
docs: venv
	$(BIN)/pip install -q -e '.[docs]'
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
