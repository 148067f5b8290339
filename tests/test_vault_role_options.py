"""The vault role's opt-in modes, deployed on this machine as stacks of their own beside the
main one: dev mode; ansible-vault encrypted keys together with revoking the root token after
the first seeding."""

import json
import pathlib
import shutil
import subprocess
import urllib.error
import urllib.request

import pytest
from project import role_default


def api(port, path, token=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"X-Vault-Token": token or ""})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, {}
    except urllib.error.URLError:
        return None, {}


@pytest.fixture
def isolated_vault(tmp_path):
    """Extra vars that make a Vault deployment a stack of its own beside the main one, removed
    afterwards: its own stack name (so its own network, labels and local fact file), base
    directory, container name, ports and credentials. Only the built images are shared. The
    localhost tests destroy the main stack while these run, which removes its network, its
    base directory and its fact file."""
    name = f"vault-option-{tmp_path.name[-8:].lower().replace('_', '-')}"
    port = 28300 + sum(map(ord, name)) % 500
    extra = {
        "stack_name": name,
        "stack_build_namespace": role_default("stack", "stack_name"),
        "stack_base_dir": str(tmp_path / "base"),
        "stack_build_dir": str(tmp_path / "build"),
        "stack_credentials_dir": str(tmp_path / "credentials"),
        "stack_publish_address": "127.0.0.1",
        "vault_container_name": name,
        "vault_port": port,
        "vault_cluster_port": port + 1000,
    }
    yield extra, tmp_path
    subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
    subprocess.run(["docker", "network", "rm", name], capture_output=True, check=False)
    shutil.rmtree(tmp_path / "base", ignore_errors=True)
    pathlib.Path(f"/etc/ansible/facts.d/{name}.fact").unlink(missing_ok=True)


def run_vault(playbook, extra, *args):
    return playbook("vault.yml", "-e", json.dumps(extra), *args)


def test_dev_mode_warns_uses_the_given_token_and_seeds(playbook, isolated_vault):
    extra, _ = isolated_vault
    extra |= {"vault_dev_mode": True, "vault_dev_root_token": "dev-token"}
    run = run_vault(playbook, extra)
    assert run.rc == 0, run.output[-3000:]
    assert "WARNING - vault_dev_mode is true" in run.output
    # Seeding wrote with the given token: the API keys the backend reads are generated.
    status, body = api(extra["vault_port"], "/v1/secret/data/auterity/api-keys", token="dev-token")
    assert status == 200
    assert sorted(body["data"]["data"]) == ["anthropic", "github", "openai"]
    assert all(len(value) == 48 for value in body["data"]["data"].values())
    again = run_vault(playbook, extra)
    assert again.rc == 0, again.output[-3000:]
    assert again.changed() == 0, again.changed_tasks()


def decrypted(path, password_file):
    """An ansible-vault encrypted file's JSON, decrypted as the role reads it."""
    from ansible.parsing.vault import VaultLib, VaultSecret  # noqa: PLC0415 - only this test needs it

    secret = VaultSecret(password_file.read_text().strip().encode())
    return json.loads(VaultLib([("default", secret)]).decrypt(path.read_text()))


def test_encrypted_keys_and_a_revoked_root_token_then_unseal_after_a_restart_off_its_network(playbook, isolated_vault):
    # Two opt-in modes on one Vault (each run of it costs half a minute): the keys file
    # encrypted with ansible-vault, and the root token revoked after the first seeding.
    extra, tmp_path = isolated_vault
    password_file = tmp_path / "vault-password"
    password_file.write_text("correct horse battery staple\n")
    extra |= {
        "vault_keys_vault_password_file": str(password_file),
        "vault_revoke_root_token": True,
        "vault_key_shares": 1,
        "vault_key_threshold": 1,
    }
    run = run_vault(playbook, extra)
    assert run.rc == 0, run.output[-3000:]
    keys_file = tmp_path / "credentials" / "vault_init.json"
    assert keys_file.read_text().startswith("$ANSIBLE_VAULT;")
    assert keys_file.stat().st_mode & 0o777 == 0o600
    document = decrypted(keys_file, password_file)
    assert document["root_token_revoked"] is True
    assert document["root_token"] == ""
    assert len(document["keys_base64"]) == 1

    again = run_vault(playbook, extra)
    assert again.rc == 0, again.output[-3000:]
    assert "Seeding skipped on this run" in again.output
    assert again.changed() == 0, again.changed_tasks()

    # Restarted, and its network removed from under it: the next run makes the network again,
    # attaches the container (which publishes its ports again) and unseals it.
    name = extra["vault_container_name"]
    subprocess.run(["docker", "restart", name], check=True, capture_output=True)
    subprocess.run(["docker", "network", "disconnect", name, name], check=True, capture_output=True)
    subprocess.run(["docker", "network", "rm", name], check=True, capture_output=True)
    assert api(extra["vault_port"], "/v1/sys/seal-status")[0] is None
    restored = run_vault(playbook, extra)
    assert restored.rc == 0, restored.output[-3000:]
    status, seal = api(extra["vault_port"], "/v1/sys/seal-status")
    assert status == 200
    assert seal["sealed"] is False
