"""Policies and AppRoles through vault_seed, down to an application logging in with what it returns."""

import hvac
import pytest
from hvac.exceptions import Forbidden


def reader_rules(mount, prefix):
    return f'path "{mount}/data/{prefix}/*" {{\n  capabilities = ["read"]\n}}\n'


def test_policies_created_then_updated(vault, client, seed, uid):
    name = f"{uid}-policy"
    first, second = reader_rules("kv", "first"), reader_rules("kv", "second")

    run = seed(vault, policies=[{"name": name, "rules": first}])
    assert not run.failed, run.output
    assert run.result["policies"] == {"created": [name], "updated": [], "unchanged": []}

    # Trailing whitespace is not a change.
    run = seed(vault, policies=[{"name": name, "rules": first.replace("\n", "   \n") + "\n\n"}])
    assert not run.failed, run.output
    assert run.result["changed"] is False
    assert run.result["policies"]["unchanged"] == [name]

    run = seed(vault, policies=[{"name": name, "rules": second}])
    assert not run.failed, run.output
    assert run.result["policies"] == {"created": [], "updated": [name], "unchanged": []}
    assert client.sys.read_policy(name)["data"]["rules"] == second


def test_approle_login_reads_its_path_only(vault, client, seed, uid, kv_mount):
    mount, policy, role = kv_mount["path"], f"{uid}-backend", f"{uid}-backend"
    approle_mount = f"approle-{uid}"
    approle = {"name": role, "token_policies": [policy], "token_ttl": "1h", "secret_id_num_uses": 5}
    request = {
        "mounts": [kv_mount],
        "policies": [{"name": policy, "rules": reader_rules(mount, "backend")}],
        "approle_mount_point": approle_mount,
        "secrets": [
            {"mount": mount, "path": "backend/config", "data": {"api_key": "backend-key-value"}},
            {"mount": mount, "path": "billing/config", "data": {"api_key": "billing-key-value"}},
        ],
    }
    run = seed(vault, no_log=True, approles=[{**approle, "secret_id": True}], **request)
    assert not run.failed, run.output
    assert run.result["auth_methods"] == {"created": [approle_mount], "unchanged": []}
    assert run.result["approles"] == {"created": [role], "updated": [], "unchanged": []}
    role_id, secret_id = run.result["role_ids"][role], run.result["secret_ids"][role]
    assert role_id == client.auth.approle.read_role_id(role, mount_point=approle_mount)["data"]["role_id"]

    app = hvac.Client(url=vault.url)
    login = app.auth.approle.login(role_id=role_id, secret_id=secret_id, mount_point=approle_mount)
    assert login["auth"]["lease_duration"] == 3600
    assert app.secrets.kv.v2.read_secret_version(
        path="backend/config", mount_point=mount, raise_on_deleted_version=True
    )["data"]["data"] == {"api_key": "backend-key-value"}
    with pytest.raises(Forbidden):
        app.secrets.kv.v2.read_secret_version(path="billing/config", mount_point=mount, raise_on_deleted_version=True)

    # "1h" compares equal to the 3600 that the server reports: a re-run changes nothing.
    run = seed(vault, approles=[approle], **request)
    assert not run.failed, run.output
    assert run.result["changed"] is False
    assert run.result["role_ids"] == {role: role_id}
    assert run.result["secret_ids"] == {}

    run = seed(vault, approles=[{**approle, "token_ttl": "2h", "token_policies": [policy, "default"]}], **request)
    assert not run.failed, run.output
    assert run.result["approles"] == {"created": [], "updated": [role], "unchanged": []}
    settings = client.auth.approle.read_role(role, mount_point=approle_mount)["data"]
    assert settings["token_ttl"] == 7200
    assert sorted(settings["token_policies"]) == sorted([policy, "default"])
    assert settings["secret_id_num_uses"] == 5
