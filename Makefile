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

.PHONY: install demo test test-fast check-defs ui instance lint lint-docker docker docker-gpu clean-artifacts

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(PIP_TORCH_INDEX) "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m mh_assets.core.clustering.projection
	@touch $@

demo: install
	$(BIN)/mh-assets demo

# Lint and load the definitions first: a style or definition error fails in seconds.
test: install lint check-defs
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check mh_assets mh_assets_tests benchmarks

# The code location loads as Dagster's tools load it (dg's project settings in pyproject.toml).
check-defs: install
	$(BIN)/dg check defs

# Loopback only: Dagster OSS has no login (see README "Operations" for a team setup).
ui: install instance
	$(BIN)/python -m mh_assets.ops.pools
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

# The persistent instance: owner-only, PostgreSQL when DAGSTER_PG_HOST is set.
instance:
	@mkdir -p "$(DAGSTER_HOME)" && chmod 700 "$(DAGSTER_HOME)"
	@test -f "$(DAGSTER_HOME)/dagster.yaml" || cp deploy/$(if $(DAGSTER_PG_HOST),dagster-postgres.yaml,dagster.yaml) "$(DAGSTER_HOME)/dagster.yaml"

# Everything but the end-to-end tests (browser, PostgreSQL, training): a quick loop.
test-fast: install
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

lint-docker: install
	$(BIN)/hadolint Dockerfile

docker:
	docker build --build-arg GIT_COMMIT=$$(git rev-parse HEAD 2>/dev/null || echo unknown) -t mh-assets .

docker-gpu:
	docker build --build-arg TORCH_VARIANT=cu128 --build-arg GIT_COMMIT=$$(git rev-parse HEAD 2>/dev/null || echo unknown) -t mh-assets:gpu .

clean-artifacts:
	rm -rf $(addprefix artifacts/,$(shell $(BIN)/python -c "from mh_assets.core.layout import MATERIALIZED; print(*MATERIALIZED)"))
