# Tasks a contributor runs; CI runs .ci/run (which installs from the lock, then does `make check`'s steps,
# the tests and the smoke runs).
VENV ?= .venv
BIN := $(VENV)/bin
LOCK := requirements/lock.txt

.PHONY: help install lock lint test-fast test smoke latest generate check

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

install:  ## the dev environment in .venv, from the lock
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e ".[dev]"
	$(BIN)/python -m pip uninstall --quiet -y torchvision torchaudio torchcodec 2>/dev/null || true
	$(BIN)/pre-commit install

lock:  ## re-resolve requirements/lock.txt after a change to pyproject.toml (UPGRADE=1: newest allowed)
	$(BIN)/pip-compile --quiet --extra dev --strip-extras --no-emit-find-links --no-emit-index-url \
		--unsafe-package medbatch $(if $(UPGRADE),--upgrade) --output-file $(LOCK) pyproject.toml

lint:  ## ruff, formatting, mypy and the import layers
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

test-fast:  ## the tests that start no Ray cluster, vLLM engine or service (under 2 minutes)
	$(BIN)/pytest -q -m "not ray"

test:  ## every test
	$(BIN)/pytest -q

smoke:  ## every documented command, each extra in a fresh environment from the lock
	$(BIN)/python -m devtools.smoke

latest:  ## the same with the newest versions pyproject.toml allows (what .ci/latest runs on a schedule)
	.ci/latest

generate:  ## regenerate the files derived from code (CRDs, chart files, spec reference, install manifests)
	$(BIN)/python -m devtools.crds manifests/crds
	$(BIN)/python -m devtools.bundle
	$(BIN)/python -m devtools.spec_reference > docs/spec-reference.md
	$(BIN)/python -m devtools.install_manifests

check: lint test smoke  ## what CI runs, in an environment made by `make install`
