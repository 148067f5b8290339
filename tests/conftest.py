"""Shared fixtures: run the project's playbooks the way a user does (tests/project.py), and
leave this machine as the tests found it."""

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
def stack_destroyed():
    """Set by the destroy test once destroy.yml -e destroy_data=true has removed the stack and
    its data and the test has seen it gone."""
    return {"done": False}


@pytest.fixture(scope="session")
def localhost_stack_left_as_found(stack_existed, stack_destroyed):
    """The all-in-one stack that the localhost tests bring up (test_localhost_stack.py deploys
    it, the next modules use it) is removed after the run, data and credentials included, so
    that a later checkout (with its own new credentials) starts from a clean machine. A stack
    that was there before is left alone."""
    yield
    if stack_existed:
        return
    if not stack_destroyed["done"]:
        run_playbook("destroy.yml", "-e", "destroy_data=true")
    shutil.rmtree("/opt/auterity", ignore_errors=True)
    shutil.rmtree(CREDENTIALS, ignore_errors=True)


def pytest_collection_modifyitems(items):
    """Tests that take the stack down run after every test that uses it."""
    items.sort(key=lambda item: item.get_closest_marker("destroys_the_stack") is not None)
