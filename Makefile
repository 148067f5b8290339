# Entry points. `make deploy` brings the stack up on this machine; `make test` runs every
# check. Both prepare what they need: the venv, Docker Engine (by the docker role) and images.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
INVENTORY ?= inventory/local
BIN := $(VENV)/bin
PLAYBOOK := $(BIN)/ansible-playbook -i $(INVENTORY)
# Scenarios run by `make molecule` (make test runs multinode and vault: tests/suite.py).
SCENARIOS ?= default vault multinode

.PHONY: help venv venv-dev engine deploy verify images destroy test lint docs pytest molecule bench clean

help:
	@echo "make deploy   - bring the stack up on localhost (inventory/local)"
	@echo "make test     - lint, pytest and the Molecule scenarios multinode and vault"
	@echo "make molecule - the Molecule scenarios one after the other ($(SCENARIOS)); SCENARIOS=default for one"
	@echo "make verify   - check that every deployed service is healthy"
	@echo "make images   - build every project image (images/) on this machine"
	@echo "make bench    - module and no-op run benchmarks against real servers (numbers, not pass/fail)"
	@echo "make docs     - regenerate the roles' README variables tables from meta/argument_specs.yml"
	@echo "make destroy  - remove the stack's containers from localhost (data is kept; DESTROY_DATA=true deletes it)"

# What a deploy needs (requirements.txt); the tests' and linters' tools come on top only for
# the targets that use them (requirements-dev.txt).
$(BIN)/.requirements: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	@echo "Installing what a deploy needs into $(VENV) (requirements.txt; the test tools are in requirements-dev.txt)"
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(BIN)/.requirements-dev: $(BIN)/.requirements requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(BIN)/.requirements

venv-dev: $(BIN)/.requirements-dev

# Docker Engine on this machine, installed and started by the project's own docker role.
engine: venv
	$(PLAYBOOK) playbooks/docker.yml

deploy: engine
	$(PLAYBOOK) playbooks/site.yml

verify: venv
	$(PLAYBOOK) playbooks/verify.yml

images: engine
	$(PLAYBOOK) playbooks/images.yml

DESTROY_DATA ?= false
destroy: venv
	$(PLAYBOOK) playbooks/destroy.yml -e destroy_data=$(DESTROY_DATA)

# Lint, then pytest and the Molecule scenarios side by side (tests/suite.py: they share
# nothing but the Docker engine); every part's time is printed at the end.
test: engine venv-dev
	$(BIN)/python tests/suite.py

lint: venv-dev
	$(BIN)/yamllint -s .
	$(BIN)/ansible-lint --profile production --offline
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The variables table of every role's README, rendered from its argument specs and defaults.
docs: venv
	$(BIN)/python tests/role_docs.py

pytest: engine venv-dev
	$(BIN)/pytest

molecule: engine venv-dev
	set -e; for scenario in $(SCENARIOS); do \
	  t0=$$(date +%s); (source $(BIN)/activate && molecule test -s $$scenario); \
	  echo "molecule $$scenario took $$(( $$(date +%s) - t0 )) s"; \
	done

# Speed goals live here, not in timed tests: each script prints its numbers and the ratio
# to the baseline measured in the same run.
bench: engine venv-dev
	$(BIN)/python tests/benchmarks/bench_vault_seed.py
	$(BIN)/python tests/benchmarks/bench_kafka_topic.py
	$(BIN)/python tests/benchmarks/bench_noop_run.py
	$(BIN)/python tests/benchmarks/bench_footprint.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
