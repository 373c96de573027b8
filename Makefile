# opsledger — developer entry points. `make demo` and `make test` work on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_WS ?= demo-workspace
DEMO_SIZE ?= medium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SYSTEM_PACKAGES := prometheus prometheus-alertmanager chromium openjdk-17-jre-headless

.PHONY: demo test lint venv dev system-deps clean bench fuzz

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: $(BIN)/activate pyproject.toml
	$(BIN)/pip install --quiet -e .
	@touch $@

# gbstats (GrowthBook's stats engine) is the reference the experiment statistics are tested
# against. It pins numpy<2 and pandas<2, which opsledger's own requirements exclude, so it is
# installed without its dependencies: the modules the tests import need only numpy, scipy and
# pydantic. (Listed in the `test` extra, pip could not resolve the environment at all.)
$(VENV)/.dev: $(VENV)/.runtime Makefile
	$(BIN)/pip install --quiet -e '.[test,lint,spark]'
	$(BIN)/pip install --quiet --no-deps 'gbstats>=0.8'
	@touch $@

venv: $(VENV)/.runtime

dev: $(VENV)/.dev

demo: $(VENV)/.runtime
	$(BIN)/opsledger demo $(DEMO_WS) --size $(DEMO_SIZE) --force
	$(BIN)/opsledger review $(DEMO_WS)

# Debian packages the tests run for real: Prometheus/promtool, amtool, headless Chromium.
system-deps:
	@if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null \
	   || ! command -v amtool >/dev/null || ! command -v chromium >/dev/null \
	   || ! command -v java >/dev/null; then \
	  echo "installing $(SYSTEM_PACKAGES)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends \
	    $(SYSTEM_PACKAGES) >/dev/null; \
	fi

lint: $(VENV)/.dev
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

test: system-deps $(VENV)/.dev lint
	$(BIN)/pytest -n 2 --dist loadfile -q

# Every performance target beside its floor; figures also go to bench/results/*.json.
bench: system-deps $(VENV)/.dev
	$(BIN)/python bench/scale.py --cases small medium medium-2x-events medium-4x-events large
	$(BIN)/python bench/sli_engine.py --events 30000000 --slos 20 --skip-pandas --spark
	$(BIN)/python bench/cost_focus.py --rows 1000000
	$(BIN)/python bench/slo_prometheus.py --slos 10
	$(BIN)/python bench/cli_startup.py
	$(BIN)/python bench/backtest.py
	$(BIN)/python bench/charts.py --size medium --runs 5
	$(BIN)/python bench/inputs.py --size large

# Long fuzzing runs (CI runs each target briefly inside the test suite).
FUZZ_SECONDS ?= 300
fuzz: $(VENV)/.dev
	@for t in fuzz/fuzz_*.py; do f=$$(basename $$t .py); mkdir -p .fuzz/$$f; \
	  $(BIN)/python $$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=1024 \
	  -max_len=65536 -artifact_prefix=.fuzz/$$f/ .fuzz/$$f || exit 1; done

clean:
	rm -rf $(VENV) $(DEMO_WS) .pytest_cache .mypy_cache .ruff_cache .fuzz
