"""What an operator checks on a Vault host: it keeps its data, unseals after a restart, hands
the backend exactly its secrets, audits, and never shows a secret in its logs."""

import json
import os
import pathlib

CREDENTIALS = pathlib.Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "credentials"
API = "https://127.0.0.1:8200"


def keys():
    return json.loads((CREDENTIALS / "vault_init.json").read_text())


def api(host, path, token=None, method="GET", body=None):
    """Call the API from the Vault host with the host's own python (a real HTTPS client)."""
    script = (
        "import json,ssl,sys,urllib.request,urllib.error\n"
        "a=json.load(sys.stdin)\n"
        "r=urllib.request.Request(a['url'],method=a['method'],data=(json.dumps(a['body']).encode() "
        "if a['body'] is not None else None),headers={'X-Vault-Token':a['token']} if a['token'] else {})\n"
        "ctx=ssl.create_default_context(cafile='/opt/auterity/vault/tls/ca.crt')\n"
        "try:\n"
        " resp=urllib.request.urlopen(r,context=ctx); print(resp.status); print(resp.read().decode())\n"
        "except urllib.error.HTTPError as e:\n"
        " print(e.code); print(e.read().decode())\n"
    )
    request = json.dumps({"url": API + path, "method": method, "token": token, "body": body})
    out = host.check_output(f"echo '{request}' | python3 -c \"{script}\"")
    status, _, text = out.partition("\n")
    return int(status), (json.loads(text) if text.strip().startswith("{") else text)


def test_a_restart_seals_vault_and_the_next_run_unseals_it(host):
    after_restart = json.loads(host.file("/root/vault-after-restart.json").content_string)
    assert after_restart["sealed"] is True
    status, seal = api(host, "/v1/sys/seal-status")
    assert status == 200
    assert seal["sealed"] is False
    assert seal["storage_type"] == "raft"


def test_secrets_are_intact_after_the_restart(host):
    status, body = api(host, "/v1/secret/data/auterity/database", token=keys()["root_token"])
    assert status == 200
    database = body["data"]["data"]
    assert database["username"] == "mlflow"
    assert database["password"] == (CREDENTIALS / "postgres_mlflow_password").read_text().strip()
    assert body["data"]["metadata"]["version"] == 1, "re-runs wrote no new version"


def test_the_backend_approle_reads_its_secrets_and_nothing_else(host):
    env_file = host.file("/opt/auterity/backend/vault-approle.env")
    assert env_file.mode == 0o600
    env = dict(line.split("=", 1) for line in env_file.content_string.splitlines() if "=" in line)
    status, login = api(
        host,
        "/v1/auth/approle/login",
        method="POST",
        body={"role_id": env["VAULT_ROLE_ID"], "secret_id": env["VAULT_SECRET_ID"]},
    )
    assert status == 200
    token = login["auth"]["client_token"]
    status, api_keys = api(host, "/v1/secret/data/auterity/api-keys", token=token)
    assert status == 200
    assert set(api_keys["data"]["data"]) == {"openai", "anthropic", "github"}
    assert all(len(value) == 48 for value in api_keys["data"]["data"].values())
    status, _ = api(host, "/v1/sys/policies/acl/backend", token=token)
    assert status == 403


def test_keys_file_is_private():
    assert (CREDENTIALS / "vault_init.json").stat().st_mode & 0o777 == 0o600
    document = keys()
    assert len(document["keys_base64"]) == 3


def test_the_audit_log_is_written_and_holds_no_plain_secret(host):
    audit = host.file("/opt/auterity/vault/audit/audit.log")
    assert audit.exists
    assert audit.size > 0
    assert (CREDENTIALS / "postgres_mlflow_password").read_text().strip() not in audit.content_string


def test_the_ui_answers_over_tls(host):
    status, _ = api(host, "/ui/")
    assert status == 200


def test_no_secret_in_the_container_logs(host):
    logs = host.run("docker logs vault")
    text = logs.stdout + logs.stderr
    document = keys()
    for value in [document["root_token"], *document["keys_base64"]]:
        assert value not in text
