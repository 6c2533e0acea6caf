# The product's front door: `make demo` and `make test` (see README.md).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
# CPU torch by default. On this project's machines `torch==2.13.0` resolves to a
# CPU wheel on disk; elsewhere add TORCH_INDEX=https://download.pytorch.org/whl/cpu.
# For a GPU: make install TORCH_SPEC="torch==2.13.0" TORCH_INDEX=https://download.pytorch.org/whl/cu128
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
PIP_TORCH_INDEX := $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX),)
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
PYTEST_ARGS ?=

.PHONY: install demo test ui lint clean-artifacts

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(PIP_TORCH_INDEX) "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

demo: install
	$(BIN)/mh-assets demo

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

ui: install
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

clean-artifacts:
	rm -rf artifacts/restricted artifacts/models artifacts/tables artifacts/figures artifacts/report artifacts/provenance
