# Two commands run the lab: `make run` starts the app, `make test` runs the whole suite.
# Both create .venv and install the project into it the first time.

# The checkout's folder, so that every target works from any directory
# (`make -C path/to/cnnlab run`, `make -f path/to/cnnlab/Makefile run`).
ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
PYTHON ?= python3
VENV ?= $(ROOT)/.venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.cnnlab-installed
PORT ?= 8501
# Empty: every address of this machine; 127.0.0.1: this machine only.
ADDRESS ?=

.PHONY: run install test bench clean

$(STAMP): $(ROOT)/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "cnnlab needs Python >= 3.11; run: make PYTHON=python3.11 ...")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e "$(ROOT)[test]"
	@touch $(STAMP)

install: $(STAMP)

# Headless, never a prompt; the lab's own settings wherever it is started (cnnlab/serve.py).
run: $(STAMP)
	$(BIN)/python -m cnnlab serve --port $(PORT)$(if $(ADDRESS), --address $(ADDRESS))

test: $(STAMP)
	cd $(ROOT) && $(BIN)/python -m pytest

bench: $(STAMP)
	cd $(ROOT) && $(BIN)/python benchmarks/overhead.py

clean:
	rm -rf $(VENV) $(ROOT)/.pytest_cache $(ROOT)/test-artifacts
