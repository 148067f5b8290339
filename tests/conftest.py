"""Shared fixtures: run the project's playbooks the way a user does (tests/project.py)."""

import pytest
from project import run_playbook


@pytest.fixture
def playbook():
    return run_playbook
