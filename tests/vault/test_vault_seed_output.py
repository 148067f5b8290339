"""What vault_seed prints: --diff names paths, keys, policies and roles, and never a secret value."""

import secrets


def kv_data(client, mount, path):
    return client.secrets.kv.v2.read_secret_version(path=path, mount_point=mount, raise_on_deleted_version=True)[
        "data"
    ]["data"]


def assert_absent(output, values):
    leaked = [value for value in values if value in output]
    assert not leaked, f"{len(leaked)} secret value(s) printed"


def test_verbose_diff_shows_names_never_values(vault, client, seed, uid, kv_mount):
    mount = kv_mount["path"]
    given = {"api_key": secrets.token_urlsafe(24), "short": "app"}
    request = {
        "mounts": [kv_mount],
        "policies": [{"name": f"{uid}-app", "rules": f'path "{mount}/data/app/*" {{ capabilities = ["read"] }}'}],
        "approles": [{"name": f"{uid}-app", "token_policies": [f"{uid}-app"], "token_ttl": "15m"}],
        "approle_mount_point": f"approle-{uid}",
        "secrets": [
            {"mount": mount, "path": "app/api", "data": given},
            {"mount": mount, "path": "app/db", "data": {"user": "app"}, "generate": {"password": {"length": 40}}},
        ],
    }
    run = seed(vault, diff=True, verbose=True, **request)
    assert not run.failed, run.output
    generated = kv_data(client, mount, "app/db")["password"]
    # The diff is there, with names and markers...
    assert f"{mount}/app/api" in run.output
    assert "password (generated)" in run.output
    assert f"{uid}-app" in run.output
    # ...and no value: neither given, nor generated, nor the token.
    assert_absent(run.output, [given["api_key"], generated, vault.token])
    # A short value is masked in the echoed arguments, but does not garble other text containing it.
    assert '"short": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"' in run.output
    assert run.result["secrets"]["created"] == [f"{mount}/app/api", f"{mount}/app/db"]

    # Changing a value, in check mode: the key is marked, neither the old nor the new value shows.
    changed = {**given, "api_key": secrets.token_urlsafe(24)}
    request["secrets"][0].update(data=changed, mode="merge")
    run = seed(vault, check=True, diff=True, verbose=True, **request)
    assert not run.failed, run.output
    assert "api_key (changed)" in run.output
    assert_absent(run.output, [given["api_key"], changed["api_key"], generated, vault.token])


def test_secret_id_is_returned_but_never_printed(vault, seed, uid):
    approle = {"name": f"{uid}-job", "token_policies": ["default"], "secret_id": True}
    run = seed(vault, diff=True, verbose=True, no_log=True, approle_mount_point=f"approle-{uid}", approles=[approle])
    assert not run.failed, run.output
    secret_id = run.result["secret_ids"][approle["name"]]
    assert len(secret_id) >= 32
    assert_absent(run.output, [secret_id, run.result["role_ids"][approle["name"]], vault.token])


def test_secret_id_needs_a_task_with_no_log(vault, client, seed, uid):
    approle_mount = f"approle-{uid}"
    approle = {"name": f"{uid}-job", "token_policies": ["default"], "secret_id": True}
    run = seed(vault, approle_mount_point=approle_mount, approles=[approle])
    assert run.failed
    assert "set no_log: true on the task" in run.result["msg"]
    assert f"{approle_mount}/" not in client.sys.list_auth_methods()["data"]
