"""The all-in-one deployment on this machine, as `make deploy` runs it (inventory/local)."""

import json
import pathlib
import re
import urllib.request

import jinja2
import pytest
import yaml
from localhost import CREDENTIALS, STACK_CONTAINERS, docker, service_steps
from project import ROOT, SERVICES, role_default

# The stack these tests bring up is removed after the last test of the run (conftest.py).
pytestmark = pytest.mark.usefixtures("localhost_stack_left_as_found")

# Kept with the credentials so that it survives, but an identifier, not a secret: it is in
# every broker's storage and environment.
NOT_SECRET = {"kafka_cluster_id"}
# Where the deployment's summary step records the services it skipped for want of an image
# (roles/stack/tasks/summary.yml): {"skipped": [...]}.
LOCAL_FACT = pathlib.Path("/etc/ansible/facts.d") / f"{role_default('stack', 'stack_name')}.fact"


def all_secrets(credentials):
    """Every secret value in the credentials directory, the Vault keys document unpacked."""
    values = []
    for path in credentials.rglob("*"):
        if path.name in NOT_SECRET or path.suffix == ".crt":
            continue  # certificates are public
        if path.suffix == ".json":
            document = json.loads(path.read_text())
            values += [document["root_token"], *document["keys_base64"]]
        elif path.is_file():
            values.append(path.read_text().strip())
    return [value for value in values if value]


def pinned_image(service):
    """The upstream image the service's role pins (<service>_image in its defaults, an
    expression over those defaults rendered), or None where its role pins none."""
    defaults = yaml.safe_load((ROOT / "roles" / service / "defaults/main.yml").read_text()) or {}
    image = defaults.get(f"{service}_image")
    if not image:
        return None
    return jinja2.Template(image).render(defaults) or None


def skipped_here():
    """The services the deployment skipped, as it recorded them, each checked against the
    engine: its pinned image is not there (a run that could pull it would have left it there)."""
    assert LOCAL_FACT.is_file(), f"no deployment recorded its skipped services in {LOCAL_FACT}"
    skipped = set(json.loads(LOCAL_FACT.read_text())["skipped"])
    on_the_engine = [
        name
        for name in sorted(skipped)
        if (image := pinned_image(name)) and docker("image", "inspect", image).returncode == 0
    ]
    assert not on_the_engine, f"skipped although their pinned image is on the engine: {on_the_engine}"
    return skipped


def test_site_deploys_healthy_services_without_printing_a_secret(playbook):
    # A guard against a hung run, not a speed goal: the first deployment of every service, with
    # -vvv, beside the Molecule scenarios on 2 cores, has taken over 30 minutes.
    run = playbook("site.yml", "-vvv", timeout=3600)
    assert run.rc == 0, run.output[-3000:]
    secrets = all_secrets(ROOT / "inventory/local/credentials")
    assert len(secrets) >= 8
    for value in secrets:
        assert value not in run.output
    summary = re.search(r"SERVICE\s+ADDRESS\s+HEALTH\n(.*?)\n\n", run.output.replace("\\n", "\n"), re.S)
    assert summary, "site.yml ends with the summary table"
    # A row: the service, its address (which may hold spaces), its health.
    row = re.compile(r"^\s*(\w+)\s.*?\s(healthy|unhealthy|SKIPPED:|disabled|not running|not deployed)", re.M)
    rows = dict(row.findall(summary.group(1)))
    # Every service of the list has a row; the inventory skips services whose image cannot be
    # had here, and says so: those are SKIPPED, every other one is healthy.
    skipped = skipped_here()
    assert rows == {name: "SKIPPED:" if name in skipped else "healthy" for name in SERVICES}


def test_second_site_run_changes_nothing(playbook):
    run = playbook("site.yml")
    assert run.rc == 0, run.output[-3000:]
    assert run.changed() == 0, run.changed_tasks()


def containers_started():
    """When each of the stack's containers last started."""
    inspect = docker("inspect", "--format", "{{.Name}} {{.State.StartedAt}}", *STACK_CONTAINERS)
    return dict(line.lstrip("/").split(" ", 1) for line in inspect.stdout.splitlines())


def test_check_diff_lists_exactly_the_services_a_change_touches_and_changes_nothing(playbook):
    before = containers_started()
    # stack_base_dir: /opt/<stack_name> in inventory/local.
    base = pathlib.Path("/opt") / role_default("stack", "stack_name")
    files = [base / "redis" / "redis.conf", base / "prometheus" / "rules" / "stack.rules.yml"]
    contents = [path.read_bytes() for path in files]
    run = playbook(
        "site.yml", "--check", "--diff", "-e", "redis_maxmemory=300mb", "-e", "prometheus_alert_redis_memory_ratio=0.85"
    )
    assert run.rc == 0, run.output[-3000:]
    steps = service_steps(run)
    assert set(steps) == set(SERVICES)
    assert sorted(name for name, status in steps.items() if status == "changed") == ["prometheus", "redis"]
    # The rule file's diff is shown; redis.conf holds the password: its content is not.
    assert re.search(r"^\+.*> 0\.85$", run.output, re.M), run.output[-3000:]
    assert "content hidden: the file holds a secret" in run.output
    assert "maxmemory 300mb" not in run.output
    # Nothing was written or re-created.
    assert containers_started() == before
    assert [path.read_bytes() for path in files] == contents


def test_tags_deploy_just_the_services_they_name(playbook):
    run = playbook("site.yml", "--tags", "redis,kafka")
    assert run.rc == 0, run.output[-3000:]
    assert run.changed() == 0, run.changed_tasks()
    assert sorted(service_steps(run)) == ["kafka", "redis"]
    skipped = playbook("site.yml", "--skip-tags", ",".join(name for name in SERVICES if name != "jaeger"))
    assert skipped.rc == 0, skipped.output[-3000:]
    assert sorted(service_steps(skipped)) == ["jaeger"]


def test_credentials_are_private(playbook):
    credentials = ROOT / "inventory/local/credentials"
    assert credentials.stat().st_mode & 0o777 == 0o700
    for secret_file in credentials.iterdir():
        if secret_file.is_file():
            assert secret_file.stat().st_mode & 0o777 == 0o600


def test_verify_finds_every_service_healthy(playbook):
    run = playbook("verify.yml")
    assert run.rc == 0, run.output[-3000:]
    skipped = skipped_here()
    for name in SERVICES:
        expected = "not deployed (no image)" if name in skipped else "healthy"
        assert f"{name}: {expected}" in run.output


def test_postgres_hands_the_application_database_credentials_to_vault():
    keys = json.loads((CREDENTIALS / "vault_init.json").read_text())
    request = urllib.request.Request(
        "http://127.0.0.1:8200/v1/secret/data/auterity/database", headers={"X-Vault-Token": keys["root_token"]}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        data = json.loads(response.read())["data"]["data"]
    assert data["username"] == "mlflow"
    assert data["database"] == "mlflow"
    assert data["host"] == "postgres"
    assert data["password"] == (CREDENTIALS / "postgres_mlflow_password").read_text().strip()
