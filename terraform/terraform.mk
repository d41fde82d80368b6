# Terraform checks for shopstream. Included by the main Makefile (`-include terraform/terraform.mk`);
# every path is relative to the repository root. Nothing here talks to AWS.
#
#   make checkov-venv   checkov in its own virtualenv (.venv-checkov, pinned; it conflicts with ours)
#   make tf-check       checkov over terraform/ with our custom policies; fails on any failed check
#   make tofu           OpenTofu built from the Go module proxy into .shopstream/tools/bin
#   make tf-fmt         tofu fmt -check over terraform/
#   make tf-test        the pytest suite of tests/terraform (HCL wiring, checkov, fmt)

PY ?= python3
GO ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)

CHECKOV_VERSION ?= 3.3.30
CHECKOV_VENV    ?= .venv-checkov
CHECKOV         := $(CHECKOV_VENV)/bin/checkov
CHECKOV_STAMP   := $(CHECKOV_VENV)/.checkov-$(CHECKOV_VERSION)
CHECKOV_OUT     ?= .shopstream/checkov
# checkov exits non-zero on any failed check (hard fail: there is no --soft-fail here).
# --skip-download: no calls to the vendor's platform (unreachable here, and not needed).
CHECKOV_ARGS    := -d terraform --framework terraform --external-checks-dir terraform/policies \
                   --skip-download --compact

TF_PYTEST    ?= .venv/bin/python -m pytest

TOFU_VERSION ?= v1.10.10
TOOLS_DIR    ?= .shopstream/tools
TOFU         := $(TOOLS_DIR)/bin/tofu
TOFU_STAMP   := $(TOOLS_DIR)/.tofu-$(TOFU_VERSION)

.PHONY: checkov-venv tf-check tofu tf-fmt tf-test

checkov-venv: $(CHECKOV_STAMP) ## Create .venv-checkov with checkov $(CHECKOV_VERSION) (idempotent)

$(CHECKOV_STAMP):
	$(PY) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check "checkov==$(CHECKOV_VERSION)"
	@rm -f $(CHECKOV_VENV)/.checkov-*
	@touch $@

tf-check: checkov-venv ## Run checkov on terraform/ (hard fail on any failed check) and print the number of skips
	@mkdir -p $(CHECKOV_OUT)
	@$(CHECKOV) $(CHECKOV_ARGS) -o json --output-file-path $(CHECKOV_OUT) >/dev/null; rc=$$?; \
	  $(PY) terraform/scripts/checkov_summary.py $(CHECKOV_OUT)/results_json.json || rc=1; \
	  exit $$rc

# `go install github.com/opentofu/opentofu/cmd/tofu@VERSION` is refused because OpenTofu's go.mod
# has a replace directive (its fork of hashicorp/hcl), so the module's source is fetched from the
# Go module proxy and built as the main module. About 3.5 minutes on 2 cores with a cold cache.
tofu: $(TOFU_STAMP) ## Build OpenTofu $(TOFU_VERSION) from the Go module proxy into .shopstream/tools/bin

$(TOFU_STAMP):
	@mkdir -p $(TOOLS_DIR)/bin $(TOOLS_DIR)/src
	set -e; \
	  src=$$($(GO) mod download -json github.com/opentofu/opentofu@$(TOFU_VERSION) \
	         | $(PY) -c 'import json, sys; print(json.load(sys.stdin)["Dir"])'); \
	  rm -rf $(TOOLS_DIR)/src/opentofu; cp -R "$$src" $(TOOLS_DIR)/src/opentofu; \
	  chmod -R u+w $(TOOLS_DIR)/src/opentofu; \
	  cd $(TOOLS_DIR)/src/opentofu && GOFLAGS=-mod=mod CGO_ENABLED=0 $(GO) build -trimpath \
	    -ldflags "-s -w -X github.com/opentofu/opentofu/version.dev=no" -o $(abspath $(TOFU)) ./cmd/tofu
	@rm -rf $(TOOLS_DIR)/src/opentofu $(TOOLS_DIR)/.tofu-*
	@touch $@
	@$(TOFU) version | head -1

tf-fmt: tofu ## Check the formatting of terraform/ with tofu fmt
	$(TOFU) fmt -check -recursive -diff terraform

tf-test: ## Run the Terraform test suite (tests/terraform)
	$(TF_PYTEST) tests/terraform -q
