"""vault_seed's errors: each is reported clearly, and before anything is written."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import openbao
import pytest
from hvac.exceptions import InvalidPath, VaultError

POLICY = {"name": "p", "rules": 'path "x" { capabilities = ["read"] }'}


def policy_names(client):
    return client.sys.list_policies()["data"]["policies"]


def mount_paths(client):
    return client.sys.list_mounted_secrets_engines()["data"]


def test_unknown_mount_is_named(vault, client, seed, uid, kv_mount):
    run = seed(
        vault,
        mounts=[kv_mount],
        policies=[{"name": f"{uid}-p", "rules": 'path "x/*" { capabilities = ["read"] }'}],
        secrets=[
            {"mount": kv_mount["path"], "path": "fine", "data": {"a": "b"}},
            {"mount": f"missing-{uid}", "path": "app", "data": {"a": "b"}},
        ],
    )
    assert run.failed
    assert f"mount 'missing-{uid}' does not exist" in run.result["msg"]
    assert f"{kv_mount['path']}/" not in mount_paths(client)
    assert f"{uid}-p" not in policy_names(client)


def test_kv_version_mismatches(vault, client, seed, uid, kv_mount):
    legacy = f"kv1-{uid}"
    client.sys.enable_secrets_engine("kv", path=legacy, options={"version": "1"})
    run = seed(
        vault,
        mounts=[kv_mount, {"path": legacy, "type": "kv", "options": {"version": "2"}}],
        secrets=[
            {"mount": kv_mount["path"], "path": "app/one", "data": {"a": "b"}, "kv_version": 1},
            {"mount": kv_mount["path"], "path": "app/two", "data": {"a": "b"}},
        ],
    )
    assert run.failed
    problems = run.result["errors"]
    assert f"mount '{legacy}' already exists as KV version 1, not KV version 2" in problems
    assert any(f"'{kv_mount['path']}/app/one'" in problem and "KV version 2" in problem for problem in problems)
    assert f"{kv_mount['path']}/" not in mount_paths(client)


def test_invalid_policy_stops_everything(vault, client, seed, uid, kv_mount):
    mount = kv_mount["path"]
    client.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    run = seed(
        vault,
        mounts=[kv_mount],
        policies=[
            {"name": f"{uid}-good", "rules": 'path "x/*" { capabilities = ["read"] }'},
            {"name": f"{uid}-broken", "rules": 'path "x/*" { capabilities = ["read"'},
        ],
        secrets=[{"mount": mount, "path": "app/config", "data": {"a": "b"}}],
    )
    assert run.failed
    assert f"policy '{uid}-broken'" in run.result["msg"]
    assert "failed to parse policy" in run.result["msg"]
    assert f"{uid}-good" not in run.result["msg"]
    policies = policy_names(client)
    assert f"{uid}-good" not in policies and f"{uid}-broken" not in policies
    assert not [name for name in policies if name.startswith("vault-seed-check-")]
    with pytest.raises(InvalidPath):
        client.secrets.kv.v2.read_secret_version(path="app/config", mount_point=mount, raise_on_deleted_version=True)


def test_bad_token(vault, seed, kv_mount):
    run = seed(vault, token="s.NotARealToken000000000", mounts=[kv_mount])
    assert run.failed
    assert "rejected the token" in run.result["msg"]


def test_unreachable_server_fails_naming_the_wait(seed, dev_server):
    # How long the run takes beyond the 3 s wait is measured by
    # tests/benchmarks/bench_vault_seed.py, not asserted here.
    url = f"http://127.0.0.1:{openbao.free_port()}"
    run = seed(dev_server, url=url, wait_timeout=3)
    assert run.failed
    assert f"Vault at {url} is still unreachable after waiting 3s" in run.result["msg"]


@pytest.fixture
def sealed_server(tmp_path):
    """A raft server of its own, sealed, so that the shared ones stay usable."""
    server = openbao.start_raft(tmp_path / "sealed")
    server.client().sys.seal()
    yield server
    server.stop()


def test_sealed_server_fails_naming_the_wait(seed, sealed_server):
    # How long the run takes beyond the 3 s wait is measured by
    # tests/benchmarks/bench_vault_seed.py, not asserted here.
    run = seed(sealed_server, wait_timeout=3, policies=[POLICY])
    assert run.failed
    assert f"Vault at {sealed_server.url} is still sealed after waiting 3s" in run.result["msg"]


def test_waits_for_a_server_being_unsealed(seed, sealed_server):
    unsealer = threading.Timer(3, openbao.unseal, args=[sealed_server])
    unsealer.start()
    started = time.monotonic()
    try:
        run = seed(sealed_server, wait_timeout=60, policies=[POLICY])
    finally:
        unsealer.join()
    assert not run.failed, run.output
    assert run.result["policies"]["created"] == ["p"]
    assert time.monotonic() - started >= 3


def test_waits_for_a_kv_engine_upgrading_to_version_2(seed, raft_server, uid):
    # A version 1 engine tuned to version 2: Vault converts its data in the background and
    # refuses reads and writes on it meanwhile, for longer the more secrets it holds.
    client = raft_server.client()
    mount = f"kv-{uid}"
    client.sys.enable_secrets_engine("kv", path=mount, options={"version": "1"})
    with ThreadPoolExecutor(16) as pool:
        written = pool.map(
            lambda n: client.secrets.kv.v1.create_or_update_secret(f"old/{n}", {"n": n}, mount_point=mount),
            range(2000),
        )
        assert len(list(written)) == 2000
    client.sys.tune_mount_configuration(mount, options={"version": "2"})
    with pytest.raises(VaultError, match="Upgrading from non-versioned to versioned data"):
        client.secrets.kv.v2.create_or_update_secret("probe", {"a": "b"}, mount_point=mount)

    declared = {"path": mount, "type": "kv", "options": {"version": "2"}}
    secret = {"mount": mount, "path": "app", "data": {"user": "app"}}
    run = seed(raft_server, wait_timeout=300, mounts=[declared], secrets=[secret])
    assert not run.failed, run.output
    assert run.result["secrets"]["created"] == [f"{mount}/app"]
    assert client.secrets.kv.v2.read_secret_version("app", mount_point=mount)["data"]["data"] == {"user": "app"}
