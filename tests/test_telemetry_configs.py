"""The telemetry services' configurations, rendered for a one-host and a three-host inventory
and checked by the programs themselves (promtool, amtool, otelcol validate) in the project's
images; the stack's alert rules against their unit tests (promtool test rules)."""

import pathlib
import shutil
import subprocess

import pytest
import yaml
from project import ROOT
from render import full_render

INVENTORIES = {"one host": "inventory/local", "three hosts": "inventory/multinode"}
TELEMETRY = ("prometheus", "alertmanager", "otel_collector", "otel_agent")


def built_image(recipe):
    """The newest image built from images/<recipe> on this machine (make test builds them all
    before pytest starts)."""
    tags = subprocess.run(
        ["docker", "images", "--filter", f"reference=auterity/{recipe}:*", "--format", "{{.Repository}}:{{.Tag}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if not tags:
        pytest.fail(f"no image built from images/{recipe}: run make images")
    return tags[0]


def check(image, entrypoint, *args, mounts=(), extra=()):
    command = ["docker", "run", "--rm", "--network", "none", "--user", "0", "--entrypoint", entrypoint, *extra]
    for source, target in mounts:
        command += ["-v", f"{source}:{target}:ro"]
    return subprocess.run([*command, image, *args], capture_output=True, text=True, check=False)


@pytest.fixture(scope="module", params=list(INVENTORIES))
def rendered(request):
    # The three-host render is the one tests/test_wiring.py reads too (every service); the
    # one-host render needs only the telemetry services.
    if INVENTORIES[request.param] == "inventory/multinode":
        return full_render(INVENTORIES[request.param])
    return full_render(INVENTORIES[request.param], TELEMETRY)


def files(rendered, service, name):
    found = sorted(rendered.glob(f"*/{service}/{name}"))
    assert found, f"{service}/{name} was not rendered"
    return found


def test_prometheus_config_rules_and_web_config_pass_promtool(rendered):
    image = built_image("prometheus")
    for config in files(rendered, "prometheus", "prometheus.yml"):
        directory = config.parent
        # The secret files it points to are not rendered here: the syntax and every value are checked.
        result = check(
            image,
            "/bin/promtool",
            "check",
            "config",
            "--syntax-only",
            "/etc/prometheus/prometheus.yml",
            mounts=[(directory, "/etc/prometheus")],
        )
        assert result.returncode == 0, result.stdout + result.stderr
        result = check(image, "/bin/promtool", "check", "rules", "/r/stack.rules.yml", mounts=[(directory, "/r")])
        assert result.returncode == 0, result.stdout + result.stderr
        result = check(image, "/bin/promtool", "check", "web-config", "/r/web.yml", mounts=[(directory, "/r")])
        assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_scrapes_every_host_of_every_service_that_serves_metrics(rendered):
    config = (files(rendered, "prometheus", "prometheus.yml")[0]).read_text()
    jobs = {job["job_name"]: job for job in yaml.safe_load(config)["scrape_configs"]}
    assert {"vault", "kafka", "prometheus", "otel_collector", "otel_agent"} <= set(jobs)
    hosts = {
        job: sorted(target["labels"]["host"] for target in jobs[job]["static_configs"])
        for job in ("kafka", "otel_agent")
    }
    if "node1" in config:
        assert hosts == {"kafka": ["node1", "node2", "node3"], "otel_agent": ["node1", "node2", "node3"]}
    # Vault's metrics need the token of its metrics policy.
    assert jobs["vault"]["authorization"]["credentials_file"].endswith("/vault_metrics_token")


def test_alertmanager_config_passes_amtool(rendered):
    image = built_image("alertmanager")
    for config in files(rendered, "alertmanager", "alertmanager.yml"):
        result = check(image, "amtool", "check-config", "/a/alertmanager.yml", mounts=[(config.parent, "/a")])
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("service", ["otel_collector", "otel_agent"])
def test_collector_configs_pass_otelcol_validate(rendered, service):
    image = built_image("otel-collector")
    for config in files(rendered, service, "config.yaml"):
        result = check(
            image,
            "/otelcol-contrib",
            "validate",
            "--config=/c/config.yaml",
            mounts=[(config.parent, "/c")],
            extra=["--tmpfs", "/hostfs"],
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_the_stack_alert_rules_pass_their_unit_tests(tmp_path):
    run = subprocess.run(
        [
            str(ROOT / ".venv/bin/ansible"),
            "localhost",
            "-m",
            "ansible.builtin.template",
            "-a",
            f"src={ROOT}/roles/prometheus/templates/stack.rules.yml.j2 dest={tmp_path}/stack.rules.yml mode=0644",
            "-e",
            f"@{ROOT}/roles/prometheus/defaults/main.yml",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    shutil.copy(ROOT / "tests/prometheus/stack.rules.test.yml", tmp_path)
    result = check(
        built_image("prometheus"),
        "/bin/promtool",
        "test",
        "rules",
        "/t/stack.rules.test.yml",
        mounts=[(tmp_path, "/t")],
        extra=["-w", "/t"],
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_a_broken_rule_fails_its_check(tmp_path):
    """The check above can fail: a rule with a syntax error is refused."""
    (tmp_path / "broken.yml").write_text("groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: up ==\n")
    result = check(
        built_image("prometheus"),
        "/bin/promtool",
        "check",
        "rules",
        "/t/broken.yml",
        mounts=[(pathlib.Path(tmp_path), "/t")],
    )
    assert result.returncode != 0
