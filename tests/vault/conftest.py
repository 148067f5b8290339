"""Fixtures for the vault_seed tests: real OpenBao servers and a runner for the module.

Two servers run for the whole session, a raft one (as in production) and a -dev one; the main
tests run against both. Every test works under its own random mount and names, so the tests stay
independent while sharing the servers.
"""

import itertools
import secrets

import openbao
import pytest
from ansible_run import run_tasks


@pytest.fixture(scope="session")
def raft_server(tmp_path_factory):
    server = openbao.start_raft(tmp_path_factory.mktemp("raft"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def dev_server(tmp_path_factory):
    server = openbao.start_dev(tmp_path_factory.mktemp("dev"))
    yield server
    server.stop()


@pytest.fixture(params=["raft", "dev"])
def vault(request):
    return request.getfixturevalue(f"{request.param}_server")


@pytest.fixture
def client(vault):
    """A root hvac client, to check the server's state independently of the module."""
    return vault.client()


@pytest.fixture
def uid():
    """A prefix unique to the test, for mounts, policies, roles and paths."""
    return f"t{secrets.token_hex(4)}"


@pytest.fixture
def kv_mount(uid):
    """A KV v2 mount declaration unique to the test."""
    return {"path": f"kv-{uid}", "type": "kv", "options": {"version": "2"}}


@pytest.fixture
def seed(tmp_path):
    """Run one vault_seed task through ansible-playbook; returns the PlaybookRun with the registered result.

    Module options are keyword arguments. url and token come from the server unless given, and
    reach the play through an extra-vars file. The task ignores errors so that a failure's result
    is saved too.
    """
    runs = itertools.count()

    def run(server, *, check=False, diff=False, verbose=False, no_log=False, **options):
        options.setdefault("url", server.url)
        options.setdefault("token", server.token)
        extra_vars = {"vault_url": options.pop("url"), "vault_token": options.pop("token")}
        task = {
            "name": "Seed Vault",
            "vault_seed": {"url": "{{ vault_url }}", "token": "{{ vault_token }}", **options},
            "register": "seed_result",
            "ignore_errors": True,
        }
        if no_log:
            task["no_log"] = True
        flags = [flag for flag, wanted in (("--check", check), ("--diff", diff), ("-vvv", verbose)) if wanted]
        return run_tasks(tmp_path / f"run{next(runs)}", [task], flags, extra_vars=extra_vars, register="seed_result")

    return run
