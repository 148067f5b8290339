# Entry points. `make deploy` brings the stack up on this machine; `make test` runs every
# check. Both prepare what they need: the venv, Docker Engine (by the docker role) and images.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
INVENTORY ?= inventory/local
BIN := $(VENV)/bin
PLAYBOOK := $(BIN)/ansible-playbook -i $(INVENTORY)
# Scenarios run by `make test`.
SCENARIOS ?= default vault multinode

.PHONY: help venv engine deploy verify images destroy test lint pytest molecule bench clean

help:
	@echo "make deploy   - bring the stack up on localhost (inventory/local)"
	@echo "make test     - lint, pytest and the Molecule scenarios ($(SCENARIOS))"
	@echo "make verify   - check that every deployed service is healthy"
	@echo "make images   - build every project image (images/) on this machine"
	@echo "make bench    - module benchmarks against real servers (numbers, not pass/fail)"
	@echo "make destroy  - remove the stack's containers from localhost (data volumes are kept)"

$(BIN)/.requirements: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

venv: $(BIN)/.requirements

# Docker Engine on this machine, installed and started by the project's own docker role.
engine: venv
	$(PLAYBOOK) playbooks/docker.yml

deploy: engine
	$(PLAYBOOK) playbooks/site.yml

verify: venv
	$(PLAYBOOK) playbooks/verify.yml

images: engine
	$(PLAYBOOK) playbooks/images.yml

destroy: venv
	$(PLAYBOOK) playbooks/destroy.yml

test: lint pytest molecule

lint: venv
	$(BIN)/yamllint -s .
	$(BIN)/ansible-lint --profile production --offline
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

pytest: engine
	$(BIN)/pytest

molecule: engine
	set -e; for scenario in $(SCENARIOS); do \
	  (source $(BIN)/activate && molecule test -s $$scenario); \
	done

# Speed goals live here, not in timed tests: each script prints its numbers and the ratio
# to the baseline measured in the same run.
bench: engine
	$(BIN)/python tests/benchmarks/bench_vault_seed.py
	$(BIN)/python tests/benchmarks/bench_kafka_topic.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
