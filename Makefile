# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export VIGIL_DATA_DIR ?= $(CURDIR)/vigil-data
export VIGIL_MODELS_DIR ?= $(CURDIR)/vigil-data/models

.PHONY: demo test lint models test-models system-deps bench clean cluster cluster-down

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,openvino]'
	touch $@

# Weights published only as release assets (the plate recognisers, YOLOX-Nano) are fetched from their pinned
# upstream addresses; where the shared model folder sits beside the checkout (CI, machines without
# internet) they are installed from it instead, checked against the same sizes and SHA-256.
SHARED_PLATE_MODELS := ../shared/models/plates
PLATE_MODELS_FROM ?= $(wildcard $(SHARED_PLATE_MODELS))
SHARED_DETECTOR_MODELS := ../shared/models/detectors
DETECTOR_MODELS_FROM ?= $(wildcard $(SHARED_DETECTOR_MODELS))

models: $(BIN)/.installed
ifneq ($(PLATE_MODELS_FROM),)
	$(BIN)/vigil models install plates-cct plates-cct-v1 --from $(PLATE_MODELS_FROM)
endif
ifneq ($(DETECTOR_MODELS_FROM),)
	$(BIN)/vigil models install yolox-nano --from $(DETECTOR_MODELS_FROM)
endif
	$(BIN)/vigil models install

# CI installs the recognisers and YOLOX-Nano from the shared folder (never from the internet), then the rest.
# The optional AGPL-3.0 plate detector and the optional PP-PicoDet-S are installed for the tests only (its golden figures are
# gated in CI); `make demo` and a plain `vigil models install` never install it.
test-models: $(BIN)/.installed
	$(BIN)/vigil models install plates-cct plates-cct-v1 --from $(SHARED_PLATE_MODELS)
	$(BIN)/vigil models install yolox-nano --from $(SHARED_DETECTOR_MODELS)
	$(BIN)/vigil models install
	$(BIN)/vigil models install platedet
	$(BIN)/vigil models install picodet-s-416 --from $(SHARED_DETECTOR_MODELS)

demo: models
	$(BIN)/vigil demo --serve

system-deps:
	bash scripts/system-deps.sh

# Scale-out on this machine: 3 NATS nodes, the local PostgreSQL, 2 workers, an indexer, a
# dispatcher and 2 API replicas (docs/scale-out.md); `make cluster-down` stops them.
cluster: models
	$(BIN)/vigil cluster up --dir vigil-cluster

cluster-down:
	$(BIN)/vigil cluster down --dir vigil-cluster

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

test: system-deps test-models lint
	$(BIN)/pytest

bench: models
	$(BIN)/python bench/pipeline.py

clean:
	rm -rf $(VENV) vigil-data build
