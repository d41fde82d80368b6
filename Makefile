# shopstream — `make` lists the targets. The two commands a new machine needs:
#   make demo   run the pipeline on the embedded local stack
#   make test   run the whole test suite (real engines)
.DEFAULT_GOAL := help
SHELL := /bin/bash

PY        ?= python3
VENV      ?= .venv
BIN       := $(VENV)/bin
SHOPSTREAM := $(BIN)/shopstream
STAMP     := $(VENV)/.installed-$(shell cat setup.cfg pyproject.toml | sha256sum | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_.-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): setup.cfg pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip wheel setuptools
	$(BIN)/pip install -q -e '.[local,report,dev,bench]'
	@rm -f $(VENV)/.installed-*; touch $@

.PHONY: install
install: $(STAMP) ## Create .venv and install shopstream with dev extras (once)

.PHONY: jars
jars: install ## Resolve engine jars from Maven Central into .shopstream/jars (no-op when present)
	$(SHOPSTREAM) jars

.PHONY: up
up: jars ## Start the local stack (Kafka, PostgreSQL, OpenSearch, S3 API) on 127.0.0.1
	$(SHOPSTREAM) up

.PHONY: status
status: ## Show the local stack's engines, PIDs and memory
	$(SHOPSTREAM) status

.PHONY: down
down: ## Stop the local stack (only what `up` started, by PID)
	$(SHOPSTREAM) down

# The demo hour: events are simulated from DEMO_HOUR:00 for ~83 minutes (20,000 events, one every
# 250 ms), so the stream's watermark closes DEMO_HOUR and the hourly batch may run for it.
DEMO_HOUR   ?= 2026-11-23T10
DEMO_EVENTS ?= 20000
DEMO_SEED   ?= 42

.PHONY: demo
demo: up airflow-venv ## Run the pipeline end to end on the local stack (produce, stream, real-time, archive, batch, mart, Airflow)
	@set -euo pipefail; \
	echo "== 1/8 real-time consumer (OpenSearch) in the background; raw archive (Kafka Connect S3 sink)"; \
	$(SHOPSTREAM) realtime templates install; \
	$(SHOPSTREAM) realtime --workers 2 --idle-exit 20 & rt=$$!; \
	trap 'kill $$rt 2>/dev/null || true; $(SHOPSTREAM) archive stop' EXIT; \
	$(SHOPSTREAM) archive start; \
	echo "== 2/8 produce $(DEMO_EVENTS) events from $(DEMO_HOUR):00 UTC (seed $(DEMO_SEED): a rerun re-sends the same event_ids)"; \
	$(SHOPSTREAM) produce --count $(DEMO_EVENTS) --seed $(DEMO_SEED) --start-time $(DEMO_HOUR):00:00+00:00 \
	    --time-step 250ms --no-progress; \
	echo "== 3/8 stream Kafka -> Delta bronze (available-now: process what is there, then stop)"; \
	$(BIN)/python jobs/run_stream.py --available-now; \
	$(SHOPSTREAM) lake count users; $(SHOPSTREAM) lake count orders; \
	echo "== 4/8 waiting for the real-time consumer to go idle and the archive to catch up"; \
	wait $$rt; $(SHOPSTREAM) archive wait --timeout 300; trap - EXIT; $(SHOPSTREAM) archive stop; \
	$(SHOPSTREAM) realtime counts; $(SHOPSTREAM) archive count --hour $(DEMO_HOUR); \
	echo "== 5/8 hourly batch for $(DEMO_HOUR): compact, export, load warehouse, aggregate mart, reconcile"; \
	$(SHOPSTREAM) batch run --hour $(DEMO_HOUR); \
	echo "== 6/8 reconciliation ledger"; \
	$(SHOPSTREAM) reconcile --hour $(DEMO_HOUR); \
	echo "== 7/8 the mart's headline ratios (what the Redash dashboards show)"; \
	$(SHOPSTREAM) mart ratios --from $(DEMO_HOUR) --to $(DEMO_HOUR); \
	echo "== 8/8 the same hour as one Airflow DAG run (dag.test; rerunning an hour changes nothing)"; \
	$(SHOPSTREAM) airflow test --entity orders --hour $(DEMO_HOUR); \
	echo "== last: the report page (both paths against the contract; opens with no network)"; \
	$(SHOPSTREAM) report --from $(DEMO_HOUR) --to $(DEMO_HOUR)

# The README's screenshot: the report of REPORT_FROM..REPORT_TO shot by Debian's headless chromium.
REPORT_FROM ?= $(DEMO_HOUR)
REPORT_TO   ?= $(DEMO_HOUR)
REPORT_ARGS ?=

.PHONY: screenshot
screenshot: install ## Regenerate docs/report.png (the demo hour's report, headless chromium; needs the stack's data)
	$(SHOPSTREAM) report --from $(REPORT_FROM) --to $(REPORT_TO) --screenshot docs/report.png $(REPORT_ARGS)

.PHONY: test
test: jars airflow-venv checkov-venv tofu ## Run the whole test suite against real engines (slow tests included)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

.PHONY: artifacts
artifacts: jars ## Build the EMR artifacts as Terraform uploads them (dist/ wheel, dist/emr/ pins + jars)
	$(BIN)/python -m tools.artifacts

.PHONY: rehearse-aws
rehearse-aws: jars ## Rehearse every AWS entry point from the deployed artifacts against a local stack
	$(BIN)/python -m pytest tests/test_rehearse_aws.py -m slow -s $(PYTEST_ARGS)

.PHONY: test-fast
test-fast: install ## Run only the tests that need no engine (-m "not slow")
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

.PHONY: lint
lint: install ## ruff (E,F,I,UP,RUF) and mypy on the package
	$(BIN)/ruff check .
	$(BIN)/ruff format --check shopstream producer jobs tests bench tools
	$(BIN)/mypy shopstream

.PHONY: fmt
fmt: install ## Format Python code with ruff
	$(BIN)/ruff format shopstream producer jobs tests bench tools
	$(BIN)/ruff check --fix .

.PHONY: clean
clean: down ## Stop the stack and delete local state (.shopstream/, keeps the jar cache)
	find .shopstream -mindepth 1 -maxdepth 1 ! -name jars -exec rm -rf {} +

-include terraform/terraform.mk
-include airflow/airflow.mk
