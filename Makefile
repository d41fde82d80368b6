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
	$(BIN)/pip install -q -e '.[dev,bench]'
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

.PHONY: demo
demo: up ## Run the pipeline end to end on the local stack
	$(SHOPSTREAM) status

.PHONY: test
test: jars ## Run the whole test suite against real engines (slow tests included)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

.PHONY: test-fast
test-fast: install ## Run only the tests that need no engine (-m "not slow")
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

.PHONY: lint
lint: install ## ruff (E,F,I,UP,RUF) and mypy on the package
	$(BIN)/ruff check .
	$(BIN)/ruff format --check shopstream producer jobs tests bench
	$(BIN)/mypy shopstream

.PHONY: fmt
fmt: install ## Format Python code with ruff
	$(BIN)/ruff format shopstream producer jobs tests bench
	$(BIN)/ruff check --fix .

.PHONY: clean
clean: down ## Stop the stack and delete local state (.shopstream/, keeps the jar cache)
	find .shopstream -mindepth 1 -maxdepth 1 ! -name jars -exec rm -rf {} +

-include terraform/terraform.mk
