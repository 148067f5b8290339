"""destroy.yml on a stack of its own, deployed beside the main one: Vault, Redis and PostgreSQL
under their own stack name, container names, ports, volumes, directories and credentials. It
removes the containers and keeps every piece of data by default; with destroy_data=true it
removes the data too, never the controller's credentials. It removes no other container (the
main stack's, when it runs) and keeps the network while other services may be on it."""

import json
import pathlib
import shutil
import uuid

import pytest
from localhost import docker
from project import role_default

SERVICES = ["vault", "redis", "postgres"]


def removed(run, kind):
    """What the run's destroy step removed ("containers", "volumes" or "paths"), by name (the
    stack role's destroy entry point). Read from the run's own events: other tests start and
    remove containers of their own on this machine meanwhile, so the engine's list would not
    tell who removed what."""
    names = []
    for event in run.results("localhost"):
        names += (event.get("removed") or {}).get(kind, [])
    return sorted(names)


def network_step(run):
    return [event["status"] for event in run.results("localhost") if event["name"] == "The stack's network"]


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
    assert all(docker("container", "inspect", name).returncode == 0 for name in containers)

    run = playbook("destroy.yml", "-e", json.dumps(extra))
    assert run.rc == 0, run.output[-3000:]
    # Those three and no other container; the network stays while the host's other services may
    # still be on it.
    assert removed(run, "containers") == sorted(containers)
    assert removed(run, "volumes") == removed(run, "paths") == []
    assert network_step(run) == ["skipped"]
    assert [name for name in containers if docker("container", "inspect", name).returncode == 0] == []
    assert all(docker("volume", "inspect", name).returncode == 0 for name in volumes)
    assert (base / "vault/data/raft").is_dir()
    assert (base / "backend/vault-approle.env").is_file()

    run = playbook("destroy.yml", "-e", json.dumps(dict(extra, destroy_data=True)))
    assert run.rc == 0, run.output[-3000:]
    # The containers went with the first run: the data now, and only that stack's.
    assert removed(run, "containers") == []
    assert removed(run, "volumes") == sorted(volumes)
    assert str(base / "vault") in removed(run, "paths")
    assert all(path.startswith(f"{base}/") for path in removed(run, "paths"))
    assert [name for name in volumes if docker("volume", "inspect", name).returncode == 0] == []
    assert not (base / "vault").exists()
    # The backend's AppRole credentials belonged to that Vault: a new one writes new ones.
    assert not (base / "backend/vault-approle.env").exists()
    assert (credentials / "redis_password").is_file(), "destroy.yml never deletes the credentials directory"
