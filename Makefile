# The two newcomer commands: `make demo` (set up, run the example flows) and `make test`.
PYTHON ?= python3
VENV := .venv
AIRFLOW_HOME ?= $(CURDIR)/.demo/airflow_home
export AIRFLOW_HOME
# Deployments are named after the user; as root (a fresh machine, CI) the demo plays the seeds' alice.
ifeq ($(shell id -un),root)
export METAFLOW_USER ?= alice
endif

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $@

.PHONY: demo test bench
demo: $(VENV)/.installed
	cd dags && for options in "" "--production" "--branch better_version" "--branch better_version --production"; do \
	  echo "== python project_flow.py $$options run"; ../$(VENV)/bin/python project_flow.py $$options run || exit 1; done
	cd dags && ../$(VENV)/bin/python firstproject.py run && ../$(VENV)/bin/python firstproject.py --branch new_model run
	cd dags && ../$(VENV)/bin/python fanout_flow.py run --alpha 0.5 --n 20
	$(VENV)/bin/python -c "from airflow_flow_triggers import Flow; r = Flow('example_project.user.$${METAFLOW_USER:-$$USER}.FanoutFlow').latest_run; print(r, 'successful:', r.successful, 'values[:5]:', r.data.values[:5])"

test: $(VENV)/.installed
	$(VENV)/bin/python -m pytest -q

bench: $(VENV)/.installed
	$(VENV)/bin/pip install -q -e '.[bench]'
	$(VENV)/bin/python bench/local_runs.py
	$(VENV)/bin/python bench/dag_factory.py
	$(VENV)/bin/python bench/trigger_latency.py
