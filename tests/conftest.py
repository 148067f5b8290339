"""Shared fixtures: run the project's playbooks the way a user does (tests/project.py), and
leave this machine as the tests found it."""

import json
import shutil

import pytest
from localhost import CREDENTIALS, STACK_CONTAINERS, docker
from project import run_playbook


@pytest.fixture
def playbook():
    return run_playbook


@pytest.fixture(scope="session")
def stack_existed():
    """Whether this machine ran the stack before these tests (then it is left alone)."""
    present = [name for name in STACK_CONTAINERS if docker("inspect", name).returncode == 0]
    return bool(present) or CREDENTIALS.exists()


@pytest.fixture(scope="session")
def services_to_put_back(stack_existed):
    """The services that a test deployed again with settings of its own; tests add their names.
    They keep those settings for the rest of the session: a stack that these tests brought up
    is removed at its end, so putting each back at once would cost a deployment per test for
    nothing. On a stack that was there before (and still is), one site.yml run at the end puts
    them all back to the inventory's settings."""
    services = set()
    yield services
    if services and stack_existed:
        run = run_playbook("site.yml", "-e", json.dumps({"site_services": sorted(services)}))
        assert run.rc == 0, run.output[-3000:]


@pytest.fixture(scope="session")
def localhost_stack_left_as_found(stack_existed):
    """The all-in-one stack that the localhost tests bring up (test_localhost_stack.py deploys
    it, the next modules use it) is removed after the run, data and credentials included, so
    that a later checkout (with its own new credentials) starts from a clean machine. A stack
    that was there before is left alone."""
    yield
    if stack_existed:
        return
    run_playbook("destroy.yml", "-e", "destroy_data=true")
    shutil.rmtree("/opt/auterity", ignore_errors=True)
    shutil.rmtree(CREDENTIALS, ignore_errors=True)
