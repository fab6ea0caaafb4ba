# Two entry points for a fresh machine: `make demo` and `make test`.
# Both build .venv from constraints.txt so every machine installs what CI tested.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
export OMP_WAIT_POLICY ?= PASSIVE
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD ?= 1
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= .fieldcoach/demo-data

.PHONY: install java demo demo-steps demo-check browser-deps test lint bench lock docs clean

install: $(STAMP)

# PySpark (--engine spark) needs a Java 17+ runtime; the pandas engine does not, so a
# missing Java is installed when we may (root with apt-get) and otherwise only reported.
java:
	@command -v java >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "java: not found; installing openjdk-17-jre-headless for --engine spark"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless; \
	  else \
	    echo "java: not found; --engine spark needs Java 17+: sudo apt-get install openjdk-17-jre-headless (macOS: brew install openjdk@17)"; \
	  fi; }

$(STAMP): pyproject.toml constraints.txt | java
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,spark]'
	touch $(STAMP)

# The main job: every step on the embedded default, then the API serving.
demo: demo-steps
	$(BIN)/fieldcoach serve --data $(DEMO_DIR)

# Everything `make demo` does before serving; CI runs it (see demo-check).
demo-steps: $(STAMP)
	$(BIN)/fieldcoach simulate --out $(DEMO_DIR) --retailers 2000 --managers 10 --weeks 104 --seed 7
	$(BIN)/fieldcoach validate $(DEMO_DIR)
	$(BIN)/fieldcoach train churn --data $(DEMO_DIR) --report .fieldcoach/churn-report.json
	$(BIN)/fieldcoach score churn --data $(DEMO_DIR) --as-of 2025-12-29 --out .fieldcoach/churn-scores.csv
	$(BIN)/python -c "import pandas as pd; print(pd.read_csv('.fieldcoach/churn-scores.csv', encoding='utf-8-sig')[['retailer_id', 'manager_id', 'churn_probability', 'value_at_risk', 'reasons_en']].head(10).to_string(index=False))"
	$(BIN)/fieldcoach train visits --data $(DEMO_DIR) --report .fieldcoach/visits-report.json
	$(BIN)/fieldcoach train skills --data $(DEMO_DIR) --report .fieldcoach/skills-report.json
	$(BIN)/fieldcoach recommend training --manager M0003
	$(BIN)/fieldcoach plan visits --data $(DEMO_DIR) --manager M0003 --week 2026-W01 --out .fieldcoach/plan-M0003.json
	$(BIN)/fieldcoach plan batch --data $(DEMO_DIR)
	@PLANNER=$$($(BIN)/fieldcoach keys create --role planner --team '*' --label demo); \
	COACH=$$($(BIN)/fieldcoach keys create --role coordinator --label demo); \
	SCIENTIST=$$($(BIN)/fieldcoach keys create --role data_scientist --label demo); \
	API=http://127.0.0.1:8000; \
	echo; echo "Web workspace: $$API/app   sign in with one of these keys:"; \
	echo "  planner (all teams): $$PLANNER"; \
	echo "  training coordinator: $$COACH"; \
	echo "  data scientist: $$SCIENTIST"; \
	echo; echo "API docs: $$API/docs   try, once it is up:"; \
	echo "  curl -H 'X-API-Key: $$PLANNER' $$API/v1/managers/M0003/visit-plan"; \
	echo "  curl -H 'X-API-Key: $$PLANNER' -H 'Accept-Language: zh' '$$API/v1/teams/T00/visit-plan?format=csv' -o team.csv"; \
	echo "  curl -H 'X-API-Key: $$PLANNER' '$$API/v1/managers/M0003/visit-plan?capacity=20&days=3'"; \
	echo "  curl -H 'X-API-Key: $$COACH' -H 'Accept-Language: zh' $$API/v1/managers/M0003/training"; \
	echo "  curl -H 'X-API-Key: $$COACH' $$API/v1/cohorts"; \
	echo "  curl -H 'X-API-Key: $$SCIENTIST' $$API/v1/models"; \
	echo "  curl -X POST -H 'X-API-Key: $$PLANNER' -H 'Content-Type: application/json' $$API/v1/feedback/visits \\"; \
	echo "       -d '{\"client_key\": \"demo-0001\", \"manager_id\": \"M0003\", \"retailer_id\": \"R0000110\", \"week\": \"2026-W01\", \"decision\": \"reject\", \"reason\": \"店主不在\"}'"; \
	echo

# CI: the demo's steps, then the API started, asked for a plan with a fresh key, stopped.
demo-check: demo-steps
	DEMO_DIR=$(DEMO_DIR) BIN=$(BIN) bash .ci/demo-check

# The browser tests drive Debian's chromium, with a CJK font so Chinese renders as text.
browser-deps:
	@if [ -x /usr/bin/chromium ] && dpkg -s fonts-noto-cjk >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian's chromium and fonts-noto-cjk for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends chromium fonts-noto-cjk >/dev/null; \
	else \
		echo "error: the browser tests need chromium and fonts-noto-cjk: run 'sudo apt-get install chromium fonts-noto-cjk' (or make test as root)"; \
		exit 1; \
	fi

test: $(STAMP) browser-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	for bench in benchmarks/bench_*.py; do $(BIN)/python $$bench || exit 1; done

docs: $(STAMP)
	$(BIN)/python -m features.contract_docs README.md

# Regenerate the lock after changing dependency ranges; commit the result.
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet -e '.[dev,spark]'
	.lock-venv/bin/python -m pip freeze --exclude-editable | grep -v '^fieldcoach' > constraints.txt
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .fieldcoach
