# Switchboard developer tasks. The two a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: help install demo test test-fast lint crds cluster cluster-down bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)  ## create .venv and install switchboard with its dev tools

demo: $(STAMP)  ## the sidecar with examples/ against switchboard-sim on 127.0.0.1:8787, with a failover tour
	$(BIN)/python examples/demo/demo.py

test: lint  ## everything: lint, types, import contracts, unit, integration and cluster tests
	$(BIN)/pytest -q

test-fast: $(STAMP)  ## unit tests only
	$(BIN)/pytest -q tests/unit

lint: $(STAMP)  ## ruff, mypy (strict), import-linter, CRDs up to date
	$(BIN)/ruff check proxy operator tests bench examples
	$(BIN)/ruff format --check proxy operator tests bench examples
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

crds: $(STAMP)  ## re-render crds/ from the resource models
	$(BIN)/switchboard crds --output-dir crds

cluster:  ## build (first run only) and start etcd + kube-apiserver + kube-controller-manager on 127.0.0.1
	tests/cluster/controlplane.sh up

cluster-down:  ## stop the local control plane and delete its data
	tests/cluster/controlplane.sh down

bench: $(STAMP)  ## proxy vs direct vs bare aiohttp pass-through, as ratios (see bench/README.md)
	$(BIN)/python bench/run.py

clean:  ## remove the virtualenv and caches (not the control-plane binaries in ~/.cache/switchboard)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
