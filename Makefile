# The two newcomer commands: `make demo` (set up, run the example flows) and `make test`.
# `make lint` checks the package's layers (import-linter, contract in setup.cfg) and ruff's rules.
PYTHON ?= python3
VENV := .venv
# Deployments are named after the user; as root (a fresh machine, CI) the demo plays the seeds' alice.
ifeq ($(shell id -un),root)
export METAFLOW_USER ?= alice
endif

# s3fs pinned to the installed fsspec, botocore to what s3fs brought: pip's resolver would otherwise
# spin for many minutes over boto versions.
FSSPEC = $$($(VENV)/bin/python -c 'import fsspec; print(fsspec.__version__)')
BOTOCORE = $$($(VENV)/bin/python -c 'import botocore; print(botocore.__version__)')

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test,lint]'
	$(VENV)/bin/pip install -q "s3fs==$(FSSPEC)"
	$(VENV)/bin/pip install -q -e '.[test,lint,s3,celery,postgres,topology]' "botocore==$(BOTOCORE)"
	touch $@

.PHONY: demo test lint bench screenshots
demo: $(VENV)/.installed
	$(VENV)/bin/python docker/demo.py $(DEMO_ARGS)

# three pytest processes (pytest-xdist; the end-to-end tests mostly wait on Airflow, so three keep 2 cores busy),
# a test module and its Airflow in one of them (--dist loadfile); the modules that start Airflow first
# (tests/conftest.py), since the longest units of work must not come last
test: $(VENV)/.installed
	$(VENV)/bin/python -m pytest -q -n 3 --dist loadfile --no-loadscope-reorder --durations=30

# docs/flow-branches.png, docs/airflow-assets.png and docs/cards-*.png, taken in headless Chromium by the browser
# tests (cards-report.png and cards-default.png are docs/cards.md's local run of dags/card_report.py)
screenshots: $(VENV)/.installed
	FLOW_TRIGGERS_SCREENSHOTS=1 $(VENV)/bin/python -m pytest -q tests/test_plugin.py tests/test_card_components.py \
		tests/test_airflow_cards.py -k "browser or offline or progress_bar"

lint: $(VENV)/.installed
	$(VENV)/bin/lint-imports --no-logo
	$(VENV)/bin/ruff check .

bench: $(VENV)/.installed
	$(VENV)/bin/pip install -q -e '.[bench]' "botocore==$(BOTOCORE)"
	$(VENV)/bin/python bench/local_runs.py
	$(VENV)/bin/python bench/dag_factory.py
	$(VENV)/bin/python bench/trigger_latency.py
