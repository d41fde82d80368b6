# Airflow targets, included from the Makefile (`-include airflow/airflow.mk`).
# Airflow lives in its own virtualenv: its dependency set (pandas >= 2.3, numpy 2, SQLAlchemy 2.1,
# click 8.5, ...) does not fit the project's .venv. The DAG tasks run the batch in .venv through
# `python -m shopstream.orchestration`, so .venv-airflow only needs Airflow, the providers and
# this package's pure-Python orchestration module (installed with --no-deps).
AIRFLOW_VENV  ?= .venv-airflow
AIRFLOW_BIN   := $(AIRFLOW_VENV)/bin
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.installed-$(shell cat airflow/requirements.txt airflow/constraints.txt | sha256sum | cut -c1-12)

$(AIRFLOW_STAMP): airflow/requirements.txt airflow/constraints.txt
	@test -x $(AIRFLOW_BIN)/python || $(or $(PY),python3) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_BIN)/pip install -q --upgrade pip wheel setuptools
	$(AIRFLOW_BIN)/pip install -q -r airflow/requirements.txt -c airflow/constraints.txt
	$(AIRFLOW_BIN)/pip install -q --no-deps -e .
	@rm -f $(AIRFLOW_VENV)/.installed-*; touch $@

.PHONY: airflow-venv
airflow-venv: $(AIRFLOW_STAMP) ## Create .venv-airflow: Airflow 3.1 + amazon/postgres providers (once)

.PHONY: airflow-constraints
airflow-constraints: ## Re-resolve airflow/requirements.txt in a scratch venv and rewrite airflow/constraints.txt
	rm -rf $(AIRFLOW_VENV)-resolve && $(or $(PY),python3) -m venv $(AIRFLOW_VENV)-resolve
	$(AIRFLOW_VENV)-resolve/bin/pip install -q --upgrade pip wheel setuptools
	$(AIRFLOW_VENV)-resolve/bin/pip install -q -r airflow/requirements.txt
	{ echo "# Exact versions of .venv-airflow (and the image's extra packages), resolved once from"; \
	  echo "# airflow/requirements.txt and frozen after the DAG tests passed on them (Python 3.11)."; \
	  echo "# Regenerate: make airflow-constraints"; \
	  $(AIRFLOW_VENV)-resolve/bin/pip freeze --exclude-editable; } > airflow/constraints.txt
	rm -rf $(AIRFLOW_VENV)-resolve

.PHONY: airflow-up
airflow-up: airflow-venv up ## Start a local Airflow (UI on http://127.0.0.1:18080) for the DAGs
	$(SHOPSTREAM) airflow start

.PHONY: airflow-down
airflow-down: ## Stop the local Airflow (by PID)
	$(SHOPSTREAM) airflow stop
