"""destroy.yml on a stack of its own, deployed beside the main one: Vault, Redis and PostgreSQL
under their own stack name, container names, ports, volumes, directories and credentials. It
removes the containers and keeps every piece of data by default; with destroy_data=true it
removes the data too, never the controller's credentials. Nothing of another stack on this
machine (the main one, when it runs) is touched."""

import json
import pathlib
import shutil
import uuid

import pytest
from localhost import docker
from project import role_default

SERVICES = ["vault", "redis", "postgres"]


def stack_containers():
    """Every container on this machine, with the stack it belongs to."""
    listed = docker("ps", "-a", "--format", '{{.Names}} {{.Label "org.auterity.stack"}}')
    return dict(line.split(" ", 1) if " " in line else (line, "") for line in listed.stdout.splitlines())


@pytest.fixture
def own_stack(tmp_path):
    name = f"destroy-{uuid.uuid4().hex[:8]}"
    base = tmp_path / "base"
    extra = {
        "stack_name": name,
        "stack_build_namespace": role_default("stack", "stack_name"),
        "stack_base_dir": str(base),
        "stack_build_dir": str(tmp_path / "build"),
        "stack_credentials_dir": str(tmp_path / "credentials"),
        "stack_publish_address": "127.0.0.1",
        "site_services": SERVICES,
        # destroy.yml's list: otherwise every service of the host's groups, by its default name.
        "destroy_services": SERVICES,
        "vault_container_name": f"{name}-vault",
        "vault_port": 28901,
        "vault_cluster_port": 29901,
        "redis_container_name": f"{name}-redis",
        "redis_port": 28902,
        "redis_data_volume": f"{name}-redis-data",
        "postgres_container_name": f"{name}-postgres",
        "postgres_port": 28903,
        "postgres_data_volume": f"{name}-postgres-data",
    }
    yield extra, base, tmp_path / "credentials"
    for service in SERVICES:
        docker("rm", "-f", "-v", extra[f"{service}_container_name"])
    for volume in ("redis_data_volume", "postgres_data_volume"):
        docker("volume", "rm", extra[volume])
    docker("network", "rm", name)
    shutil.rmtree(base, ignore_errors=True)
    pathlib.Path(f"/etc/ansible/facts.d/{name}.fact").unlink(missing_ok=True)


def test_destroy_keeps_data_unless_asked_then_removes_it_and_nothing_of_another_stack(playbook, own_stack):
    extra, base, credentials = own_stack
    containers = [extra[f"{service}_container_name"] for service in SERVICES]
    volumes = [extra["redis_data_volume"], extra["postgres_data_volume"]]
    deployed = playbook("site.yml", "-e", json.dumps(extra))
    assert deployed.rc == 0, deployed.output[-3000:]
    others = {name: stack for name, stack in stack_containers().items() if name not in containers}
    assert all(docker("container", "inspect", name).returncode == 0 for name in containers)

    run = playbook("destroy.yml", "-e", json.dumps(extra))
    assert run.rc == 0, run.output[-3000:]
    assert [name for name in containers if docker("container", "inspect", name).returncode == 0] == []
    assert all(docker("volume", "inspect", name).returncode == 0 for name in volumes)
    assert (base / "vault/data/raft").is_dir()
    assert (base / "backend/vault-approle.env").is_file()

    run = playbook("destroy.yml", "-e", json.dumps(dict(extra, destroy_data=True)))
    assert run.rc == 0, run.output[-3000:]
    assert [name for name in volumes if docker("volume", "inspect", name).returncode == 0] == []
    assert not (base / "vault").exists()
    # The backend's AppRole credentials belonged to that Vault: a new one writes new ones.
    assert not (base / "backend/vault-approle.env").exists()
    assert (credentials / "redis_password").is_file(), "destroy.yml never deletes the credentials directory"
    # Every other container on this machine is still there, the main stack's included.
    still = stack_containers()
    assert {name: stack for name, stack in others.items() if name in still} == others
