# Switchboard developer tasks. The two a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: help install demo test test-fast lint crds image cluster cluster-down model peer bench bench-outcomes spike fuzz clean

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
	$(BIN)/ruff check proxy operator tests bench examples charts
	$(BIN)/ruff format --check proxy operator tests bench examples charts
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

crds: $(STAMP)  ## re-render crds/ from the resource models (and the chart's copy of them)
	$(BIN)/switchboard crds --output-dir crds
	cp crds/*.yaml charts/switchboard/files/crds/

image:  ## build the Dockerfile with buildah (plus the node's pause and demo images) and load them into the node
	tests/cluster/images.sh load

cluster:  ## build (first run only) and start a control plane and a node (kubelet, containerd) on this machine
	tests/cluster/controlplane.sh up

cluster-down:  ## stop the local cluster: its pods, the node, the control plane; remove what they made
	tests/cluster/controlplane.sh down

fuzz: $(STAMP)  ## a long fuzzing campaign against a real sidecar: FUZZ_SEED=1 FUZZ_REQUESTS=50000
	$(BIN)/python tests/fuzz/run.py --seed $(or $(FUZZ_SEED),1) --requests $(or $(FUZZ_REQUESTS),50000)

model:  ## the real model of the test suite: llama-cpp-python (portable wheel, cached) and Gemma 3 270M
	tests/realmodel/install.sh

peer:  ## the benchmark's peer: a pinned LiteLLM proxy in its own virtualenv (.venv-litellm)
	bench/litellm/install.sh

bench: $(STAMP) peer  ## proxy vs direct vs bare aiohttp pass-through vs LiteLLM, as ratios (see bench/README.md)
	$(BIN)/python bench/run.py

spike: $(STAMP)  ## a 10x traffic spike over three priorities, admission control on and off (bench/README.md)
	$(BIN)/python bench/spike.py

bench-outcomes: $(STAMP)  ## cost and quality of always-frontier, always-cheapest, examples/ and explore on a simulated workload (bench/outcomes/), about 6 minutes
	@$(BIN)/python -c 'import matplotlib' 2>/dev/null || $(BIN)/pip install --disable-pip-version-check -q -e '.[dev,bench]'
	$(BIN)/python bench/outcomes/run.py

clean:  ## remove the virtualenvs and caches (not the binaries, wheels and weights in ~/.cache/switchboard)
	rm -rf $(VENV) .venv-model .venv-litellm .pytest_cache .mypy_cache .ruff_cache .hypothesis
