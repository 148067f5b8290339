"""KV secrets through vault_seed: the three modes, generated values, check mode, idempotence and scale.

The state is always checked with hvac directly, never through the module.
"""

import string

ALPHANUMERIC = set(string.ascii_letters + string.digits)


def read(client, mount, path):
    return client.secrets.kv.v2.read_secret_version(path=path, mount_point=mount, raise_on_deleted_version=True)[
        "data"
    ]["data"]


def current_version(client, mount, path):
    return client.secrets.kv.v2.read_secret_metadata(path=path, mount_point=mount)["data"]["current_version"]


def secrets_of(result):
    return {action: sorted(paths) for action, paths in result["secrets"].items()}


def test_modes_create_merge_replace(vault, client, seed, kv_mount):
    mount = kv_mount["path"]
    first = [
        {"mount": mount, "path": "app/create", "data": {"user": "u1", "password": "p1"}},
        {"mount": mount, "path": "app/merge", "data": {"user": "u1", "extra": "e1"}},
        {"mount": mount, "path": "app/replace", "data": {"user": "u1", "extra": "e1"}},
    ]
    run = seed(vault, mounts=[kv_mount], secrets=first)
    assert not run.failed, run.output
    assert run.result["changed"]
    assert run.result["mounts"] == {"created": [mount], "unchanged": []}
    assert secrets_of(run.result)["created"] == [f"{mount}/app/create", f"{mount}/app/merge", f"{mount}/app/replace"]

    # An operator rotates the password by hand: mode create must never undo that.
    client.secrets.kv.v2.create_or_update_secret("app/create", {"user": "u1", "password": "rotated"}, mount_point=mount)

    second = [
        {"mount": mount, "path": "app/create", "data": {"user": "u2", "password": "p2"}, "mode": "create"},
        {"mount": mount, "path": "app/merge", "data": {"user": "u2", "added": "a2"}, "mode": "merge"},
        {"mount": mount, "path": "app/replace", "data": {"user": "u2"}, "mode": "replace"},
    ]
    run = seed(vault, mounts=[kv_mount], secrets=second)
    assert not run.failed, run.output
    assert secrets_of(run.result) == {
        "created": [],
        "updated": [f"{mount}/app/merge", f"{mount}/app/replace"],
        "unchanged": [f"{mount}/app/create"],
    }
    assert read(client, mount, "app/create") == {"user": "u1", "password": "rotated"}
    assert read(client, mount, "app/merge") == {"user": "u2", "extra": "e1", "added": "a2"}
    assert read(client, mount, "app/replace") == {"user": "u2"}

    versions = {path: current_version(client, mount, path) for path in ("app/create", "app/merge", "app/replace")}
    run = seed(vault, mounts=[kv_mount], secrets=second)
    assert not run.failed, run.output
    assert run.result["changed"] is False
    assert secrets_of(run.result)["unchanged"] == [f"{mount}/app/create", f"{mount}/app/merge", f"{mount}/app/replace"]
    assert {path: current_version(client, mount, path) for path in versions} == versions


def test_generated_values_are_created_once_and_kept(vault, client, seed, kv_mount):
    mount = kv_mount["path"]
    database = {
        "mount": mount,
        "path": "db",
        "data": {"user": "app"},
        "generate": {"password": {"length": 32}, "pin": {"length": 6, "chars": "0123456789"}},
    }
    tokens = {"mount": mount, "path": "tokens", "mode": "merge", "generate": {"signing": {"length": 20}}}
    run = seed(vault, mounts=[kv_mount], secrets=[database, tokens])
    assert not run.failed, run.output
    created = read(client, mount, "db")
    assert created["user"] == "app"
    assert len(created["password"]) == 32 and set(created["password"]) <= ALPHANUMERIC
    assert len(created["pin"]) == 6 and created["pin"].isdigit()
    signing = read(client, mount, "tokens")["signing"]
    assert len(signing) == 20

    # replace keeps the generated password but drops pin; merge adds a new generated key only.
    database.update(mode="replace", data={"user": "app2"}, generate={"password": {"length": 32}})
    tokens["generate"]["refresh"] = {"length": 24}
    run = seed(vault, mounts=[kv_mount], secrets=[database, tokens])
    assert not run.failed, run.output
    assert read(client, mount, "db") == {"user": "app2", "password": created["password"]}
    rotated = read(client, mount, "tokens")
    assert rotated["signing"] == signing
    assert len(rotated["refresh"]) == 24

    run = seed(vault, mounts=[kv_mount], secrets=[database, tokens])
    assert not run.failed, run.output
    assert run.result["changed"] is False
    assert read(client, mount, "tokens") == rotated


def test_check_mode_writes_nothing(vault, client, seed, uid, kv_mount):
    mount = kv_mount["path"]
    run = seed(vault, mounts=[kv_mount], secrets=[{"mount": mount, "path": "existing", "data": {"a": "1"}}])
    assert not run.failed, run.output

    new_mount = {"path": f"kv-new-{uid}", "type": "kv-v2"}
    approle_mount = f"approle-{uid}"
    run = seed(
        vault,
        check=True,
        mounts=[kv_mount, new_mount],
        policies=[{"name": f"{uid}-reader", "rules": 'path "x/*" { capabilities = ["read"] }'}],
        approle_mount_point=approle_mount,
        approles=[{"name": f"{uid}-role", "token_policies": [f"{uid}-reader"]}],
        secrets=[
            {"mount": mount, "path": "existing", "data": {"b": "2"}, "mode": "merge"},
            {"mount": mount, "path": "fresh", "generate": {"password": {"length": 16}}},
            {"mount": new_mount["path"], "path": "inside-new-mount", "data": {"c": "3"}},
        ],
    )
    assert not run.failed, run.output
    result = run.result
    assert result["changed"] is True
    assert result["mounts"] == {"created": [new_mount["path"]], "unchanged": [mount]}
    assert result["auth_methods"] == {"created": [approle_mount], "unchanged": []}
    assert result["policies"]["created"] == [f"{uid}-reader"]
    assert result["approles"]["created"] == [f"{uid}-role"]
    assert secrets_of(result) == {
        "created": sorted([f"{mount}/fresh", f"{new_mount['path']}/inside-new-mount"]),
        "updated": [f"{mount}/existing"],
        "unchanged": [],
    }
    assert result["role_ids"] == {} and result["secret_ids"] == {}

    assert f"{new_mount['path']}/" not in client.sys.list_mounted_secrets_engines()["data"]
    assert f"{approle_mount}/" not in client.sys.list_auth_methods()["data"]
    assert f"{uid}-reader" not in client.sys.list_policies()["data"]["policies"]
    assert read(client, mount, "existing") == {"a": "1"}
    assert current_version(client, mount, "existing") == 1
    assert client.secrets.kv.v2.list_secrets(path="", mount_point=mount)["data"]["keys"] == ["existing"]


def test_thousand_secrets_in_one_call(vault, client, seed, kv_mount):
    mount = kv_mount["path"]
    items = [{"mount": mount, "path": f"bulk/{index:04d}", "data": {"index": str(index)}} for index in range(1000)]
    items += [{"mount": mount, "path": "bulk/generated", "generate": {"password": {"length": 24}}}]
    run = seed(vault, mounts=[kv_mount], secrets=items)
    assert not run.failed, run.output
    assert len(run.result["secrets"]["created"]) == 1001
    assert read(client, mount, "bulk/0999") == {"index": "999"}
    assert len(client.secrets.kv.v2.list_secrets(path="bulk", mount_point=mount)["data"]["keys"]) == 1001

    run = seed(vault, mounts=[kv_mount], secrets=items)
    assert not run.failed, run.output
    assert run.result["changed"] is False
    assert len(run.result["secrets"]["unchanged"]) == 1001
    assert current_version(client, mount, "bulk/0500") == 1


def test_kv_version_1_mount(vault, client, seed, uid):
    mount = f"kv1-{uid}"
    kv1 = client.secrets.kv.v1
    items = [
        {"mount": mount, "path": "app/config", "data": {"a": "1"}, "kv_version": 1},
        {"mount": mount, "path": "app/merged", "mode": "merge", "data": {"b": "2"}, "generate": {"pw": {"length": 12}}},
    ]
    run = seed(vault, mounts=[{"path": mount, "type": "kv-v1"}], secrets=items)
    assert not run.failed, run.output
    assert secrets_of(run.result)["created"] == [f"{mount}/app/config", f"{mount}/app/merged"]
    assert kv1.read_secret("app/config", mount_point=mount)["data"] == {"a": "1"}
    merged = kv1.read_secret("app/merged", mount_point=mount)["data"]
    kv1.create_or_update_secret("app/merged", {**merged, "operator": "x"}, mount_point=mount)

    items[1]["data"] = {"b": "3"}
    run = seed(vault, mounts=[{"path": mount, "type": "kv", "options": {"version": "1"}}], secrets=items)
    assert not run.failed, run.output
    assert secrets_of(run.result)["updated"] == [f"{mount}/app/merged"]
    assert kv1.read_secret("app/merged", mount_point=mount)["data"] == {"b": "3", "pw": merged["pw"], "operator": "x"}

    run = seed(vault, secrets=items)
    assert not run.failed, run.output
    assert run.result["changed"] is False
