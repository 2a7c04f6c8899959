# Kairos: every target sets itself up first, so each works on a fresh clone.
#   make demo   generate a day of sample extracts and run the ingest DAGs through Airflow
#   make test   run the whole test suite (what CI runs)
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.kairos-installed
export KAIROS_HOME ?= $(CURDIR)/var
export KAIROS_PROJECT_DIR ?= $(CURDIR)

.PHONY: review-sim celery-setup soak-celery spark-setup spark-build lock-spark setup browser demo test lint format bench-ingest bench-build bench-gate bench-keys bench-backfill bench-daily bench-scale bench-airflow docs contract-doc lock clean portal airflow next-day soak fuzz chaos

setup: $(STAMP)

# Reinstalls when the lock or the project metadata changes; otherwise a no-op.
$(STAMP): requirements.lock pyproject.toml sample/pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH"; exit 1; }
	@echo "setup 1/3: a virtual environment in $(VENV)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "setup 2/3: the locked dependencies, hashes checked (Airflow, dbt, GX, DuckDB: about 4 minutes the first time) ..."
	@start=$$(date +%s); $(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock \
	  && echo "  done in $$(( $$(date +%s) - start )) s"
	@echo "setup 3/3: kairos and kairos-sample (editable)"
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e . -e sample
	@touch $(STAMP)

demo: setup
	$(BIN)/kairos demo $(DEMO_ARGS)

# Two pytest-xdist workers (one per core here); a module's tests, and the modules sharing
# the closed loop, stay in one worker (tests/conftest.py). PYTEST_WORKERS=0: one process.
PYTEST_WORKERS ?= 2
test: setup spark-setup browser
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --no-loadscope-reorder $(PYTEST_ARGS)

# The portal's browser test drives Debian's chromium with Playwright (Playwright's own
# browser download does not work offline); installed once from Debian's packages.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null || { echo "installing Debian's chromium for the browser test"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

# Kairos under a real Airflow 3 (scheduler, DAG processor, triggerer, API server on
# http://127.0.0.1:8280/), configured by config/airflow.cfg
airflow: setup
	$(BIN)/kairos scheduler

# The next business date: a sample delivery of the last one's size and seed, and its
# ingest DAGs triggered in the running Airflow (make airflow); NEXT_ARGS="--date ..."
next-day: setup
	$(BIN)/kairos next-day $(NEXT_ARGS)

# How often the rule review is wrong: 1,000 simulated reviews per world, 12 weekly looks,
# at 30,000 and 1,000,000 subscribers (REVIEW_SIM_ARGS="--reviews 5000 --seed 3")
review-sim: setup
	$(BIN)/python -m tests.harness.review_sim $(REVIEW_SIM_ARGS)

# 30 business dates under the real scheduler with faults planted (SOAK_ARGS to change)
soak: setup
	$(BIN)/python -m tests.harness.soak $(SOAK_ARGS)

# The same DAGs on Airflow's CeleryExecutor: scheduler, DAG processor, triggerer, API
# server and a Celery worker serving the queue KAIROS_TASK_QUEUE, broker and results on
# SQLite files (no server to install); two dates, the second refused; each date built on
# Spark too (build_warehouse_spark), the pools checked from the task instances (CI runs it)
CELERY_STAMP := $(VENV)/.kairos-celery-installed
celery-setup: $(CELERY_STAMP)
$(CELERY_STAMP): requirements-celery.lock $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes -r requirements-celery.lock
	touch $(CELERY_STAMP)
SOAK_CELERY_ARGS ?= --days 2 --plan short --subscribers 600 --home var/soak-celery --engines duckdb,spark
soak-celery: celery-setup spark-setup
	$(BIN)/python -m tests.harness.soak --executor celery $(SOAK_CELERY_ARGS)

# local use on http://127.0.0.1:8080/ -- plain HTTP, so said explicitly (behind TLS, run
# `kairos portal` without KAIROS_PORTAL_INSECURE_HTTP: Secure cookie and HSTS)
portal: setup
	KAIROS_PORTAL_INSECURE_HTTP=1 $(BIN)/kairos portal $(PORTAL_ARGS)

# 1,000+ mutated deliveries through the ingest (FUZZ_ARGS="--cases 5000 --seed 7")
fuzz: setup
	$(BIN)/python -m tests.harness.fuzzing $(FUZZ_ARGS)

# 100 random SIGKILLs of one step, and 100 of one of two steps run at once (CHAOS_ARGS="--cases 300 --pairs 300")
chaos: setup
	$(BIN)/python -m tests.harness.chaos $(CHAOS_ARGS)

# ruff (style, imports, complexity <= 10), sqlfluff (the dbt models and tests, compiled
# against an in-memory DuckDB), and the contract page; .pre-commit-config.yaml runs the same
lint: setup
	$(BIN)/ruff check src sample plugins dags tests bench spark
	$(BIN)/ruff format --check src sample plugins dags tests bench spark
	KAIROS_WAREHOUSE=:memory: $(BIN)/sqlfluff lint --disable-progress-bar dbt_project/models dbt_project/tests
	$(BIN)/kairos contract-doc --check
	$(BIN)/kairos config-doc --check

format: setup
	$(BIN)/ruff format src sample plugins dags tests bench spark
	$(BIN)/ruff check --fix src sample plugins dags tests bench spark
	KAIROS_WAREHOUSE=:memory: $(BIN)/sqlfluff fix --disable-progress-bar dbt_project/models dbt_project/tests

contract-doc: setup
	$(BIN)/kairos contract-doc
	$(BIN)/kairos config-doc

docs: setup
	$(BIN)/kairos docs

# The same dbt project on Spark (dbt-spark's session method on a local pyspark, Java 17),
# in an environment of its own: dbt-spark pins other versions than dbt-duckdb's world.
SPARK_VENV := .venv-spark
SPARK_STAMP := $(SPARK_VENV)/.kairos-installed
spark-setup: $(SPARK_STAMP)
$(SPARK_STAMP): requirements-spark.lock
	@command -v java >/dev/null || { echo "installing Java 17 for Spark"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq openjdk-17-jre-headless >/dev/null; }
	test -x $(SPARK_VENV)/bin/python || $(PYTHON) -m venv $(SPARK_VENV)
	$(SPARK_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-spark.lock
	touch $(SPARK_STAMP)

# Build the dates already ingested (with KAIROS_LAKE set) on Spark: SPARK_ARGS="--date D ...".
spark-build: spark-setup
	$(SPARK_VENV)/bin/python spark/build.py $(SPARK_ARGS)

bench-build: setup
	$(BIN)/python -m bench.bench_build $(BENCH_ARGS)

bench-gate: setup
	$(BIN)/python -m bench.bench_gate $(BENCH_ARGS)

bench-keys: setup
	$(BIN)/python -m bench.bench_keys $(BENCH_ARGS)

bench-backfill: setup
	$(BIN)/python -m bench.bench_backfill $(BENCH_ARGS)

# The whole daily run (ingest, build, snapshot, publish) on day N of history against
# DuckDB's bare read_csv of the same day's bytes: BENCH_ARGS="--subscribers 200000 --days 10"
bench-daily: setup
	$(BIN)/python -m bench.bench_daily $(BENCH_ARGS)

# bench-daily at 1 million and at 10 million subscribers (8 days each), step by step growth
bench-scale: setup
	$(BIN)/python -m bench.bench_scale $(BENCH_ARGS)

# one business date under the real scheduler against the CLI's and the floor (2,000 and
# 300,000 subscribers)
bench-airflow: setup
	$(BIN)/python -m bench.bench_airflow $(BENCH_ARGS)

bench-ingest: setup
	$(BIN)/python -m bench.bench_ingest $(BENCH_ARGS)

# Refresh requirements.lock from pyproject's pins (needs the package registry): every
# package pinned, with the SHA-256 of the file pip installs (pip --require-hashes; a
# dependency asked for with an extra, like dbt's mashumaro[msgpack], is pinned with it;
# uvicorn is asked for both plain and as uvicorn[standard], so both are pinned, or pip
# takes a newer uvicorn for the unpinned one).
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --disable-pip-version-check ".[dev]"
	( echo "# Exact versions and file hashes of every package Kairos installs (python 3.11)."; \
	  echo "# Regenerate with \`make lock\`; installed with pip --require-hashes."; \
	  .lock-venv/bin/pip freeze --exclude-editable | grep -v '^kairos' \
	    | sed -e 's/^mashumaro==/mashumaro[msgpack]==/' -e 's/^uvicorn==\(.*\)/uvicorn==\1\nuvicorn[standard]==\1/'; \
	  echo "# build backend for the editable install of kairos itself"; \
	  echo "setuptools==80.9.0"; echo "wheel==0.45.1" ) > .lock-venv/pinned.txt
	.lock-venv/bin/python tools/lock_hashes.py .lock-venv/pinned.txt > requirements.lock
	rm -rf .lock-venv

lock-spark:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --disable-pip-version-check \
	  "dbt-core==1.11.16" "dbt-spark[session]==1.11.0" "pyspark==4.3.0"
	( echo "# Exact versions and file hashes of the Spark build environment (python 3.11,"; \
	  echo "# .venv-spark). Regenerate with \`make lock-spark\`; installed with --require-hashes."; \
	  .lock-venv/bin/pip freeze | sed -e 's/^mashumaro==/mashumaro[msgpack]==/' ) > .lock-venv/pinned.txt
	.lock-venv/bin/python tools/lock_hashes.py .lock-venv/pinned.txt > requirements-spark.lock
	rm -rf .lock-venv

clean:
	rm -rf var .pytest_cache .ruff_cache
