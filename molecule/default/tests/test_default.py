"""What a user checks on the all-in-one host after site.yml and a day-two re-deploy."""

import json
import os
import pathlib

import pytest

CREDENTIALS = pathlib.Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "credentials"


def secret(name):
    return (CREDENTIALS / name).read_text().strip()


def container(host, name):
    return json.loads(host.check_output(f"docker inspect {name}"))[0]


def test_docker_engine_installed_and_configured_by_the_role(host):
    assert host.service("docker").is_running
    assert host.service("docker").is_enabled
    daemon = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert daemon["log-opts"] == {"max-size": "10m", "max-file": "3"}
    assert daemon["insecure-registries"]


@pytest.mark.parametrize("name", ["redis", "postgres"])
def test_service_containers_are_hardened(host, name):
    info = container(host, name)
    assert info["State"]["Health"]["Status"] == "healthy"
    assert info["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert info["HostConfig"]["Memory"] > 0
    assert info["HostConfig"]["LogConfig"]["Config"]["max-size"] == "10m"
    assert "auterity" in info["NetworkSettings"]["Networks"]
    assert host.check_output(f"docker exec {name} id -u") == "999"
    data_mounts = [m for m in info["Mounts"] if m["Type"] == "volume"]
    assert data_mounts, f"{name} keeps its data on a named volume"
    assert info["Config"]["Labels"]["org.auterity.config-hash"]


def test_redis_refuses_a_command_without_the_password(host):
    result = host.run("docker exec redis redis-cli -h 127.0.0.1 SET intruder 1")
    assert "NOAUTH" in result.stdout + result.stderr


def test_redis_set_and_get_with_the_password_through_the_published_port(host):
    # A client outside the container, speaking RESP to the published port.
    script = (
        "import socket,sys\n"
        "s=socket.create_connection(('127.0.0.1',6379),5)\n"
        "def cmd(*a):\n"
        " s.sendall(('*%d\\r\\n' % len(a) + ''.join('$%d\\r\\n%s\\r\\n' % (len(x), x) for x in a)).encode())\n"
        " return s.recv(4096).decode()\n"
        "print(cmd('AUTH', sys.stdin.readline().strip()).strip())\n"
        "print(cmd('SET', 'greeting', 'hello').strip())\n"
        "print(cmd('GET', 'greeting').split()[-1])\n"
    )
    result = host.run(f'echo {secret("redis_password")} | python3 -c "{script}"')
    assert result.rc == 0, result.stderr
    assert result.stdout.split() == ["+OK", "+OK", "hello"]


def test_redis_password_file_is_private(host):
    password_file = host.file("/opt/auterity/redis/secrets/redis_password")
    assert password_file.mode == 0o400
    assert password_file.uid == 999


def psql(host, user, password, sql):
    return host.run(
        f'docker exec -e PGPASSWORD={password} postgres psql -h 127.0.0.1 -U {user} -d mlflow -At -c "{sql}"'
    )


def test_postgres_accepts_the_application_user(host):
    result = psql(host, "mlflow", secret("postgres_mlflow_password"), "SELECT current_user")
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == "mlflow"


def test_postgres_refuses_a_wrong_password(host):
    result = psql(host, "mlflow", "not-the-password", "SELECT 1")
    assert result.rc != 0
    assert "password authentication failed" in result.stderr


def test_postgres_row_survives_a_redeploy_with_a_changed_config(host):
    password = secret("postgres_mlflow_password")
    assert psql(host, "mlflow", password, "SHOW max_connections").stdout.strip() == "123"
    rows = psql(host, "mlflow", password, "SELECT note FROM survival").stdout.splitlines()
    assert rows == ["written before the re-deploy"]


def test_a_config_change_recreates_exactly_that_container(host):
    before = json.loads(host.file("/root/container-ids-before.json").content_string)
    assert container(host, "postgres")["Id"] != before["postgres"]
    assert container(host, "redis")["Id"] == before["redis"]


def test_no_secret_in_container_logs(host):
    secrets = [secret(name) for name in ("redis_password", "postgres_superuser_password", "postgres_mlflow_password")]
    for name in ("redis", "postgres"):
        logs = host.run(f"docker logs {name}")
        for value in secrets:
            assert value not in logs.stdout + logs.stderr
