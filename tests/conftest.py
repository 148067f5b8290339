"""Shared fixtures: run the project's playbooks the way a user does (tests/project.py), and
leave this machine as the tests found it."""

import json
import shutil
import types
import uuid

import pytest
from localhost import (
    CREDENTIALS,
    MLFLOW,
    STACK_CONTAINERS,
    Sink,
    Webhook,
    container_id,
    docker,
    secret,
    service_steps,
    stack_network_gateway,
    started_at,
)
from project import run_playbook


@pytest.fixture
def playbook():
    return run_playbook


@pytest.fixture(scope="session")
def stack_existed():
    """Whether this machine ran the stack before these tests (then it is left alone)."""
    present = [name for name in STACK_CONTAINERS if docker("inspect", name).returncode == 0]
    return bool(present) or CREDENTIALS.exists()


@pytest.fixture(scope="session")
def services_to_put_back(stack_existed):
    """The services that a test deployed again with settings of its own; tests add their names.
    They keep those settings for the rest of the session: a stack that these tests brought up
    is removed at its end, so putting each back at once would cost a deployment per test for
    nothing. On a stack that was there before (and still is), one site.yml run at the end puts
    them all back to the inventory's settings."""
    services = set()
    yield services
    if services and stack_existed:
        run = run_playbook("site.yml", "-e", json.dumps({"site_services": sorted(services)}))
        assert run.rc == 0, run.output[-3000:]


@pytest.fixture(scope="session")
def localhost_stack_left_as_found(stack_existed):
    """The all-in-one stack that the localhost tests bring up (test_localhost_stack.py deploys
    it, the next modules use it) is removed after the run, data and credentials included, so
    that a later checkout (with its own new credentials) starts from a clean machine. A stack
    that was there before is left alone."""
    yield
    if stack_existed:
        return
    run_playbook("destroy.yml", "-e", "destroy_data=true")
    shutil.rmtree("/opt/auterity", ignore_errors=True)
    shutil.rmtree(CREDENTIALS, ignore_errors=True)


@pytest.fixture(scope="session")
def mlflow_client():
    """MLflow's client library on the published port, with the admin login (its environment
    variables, for the whole session)."""
    import mlflow  # noqa: PLC0415 - slow to import, and only the localhost tests need it
    from mlflow.tracking import MlflowClient  # noqa: PLC0415

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
        patch.setenv("MLFLOW_TRACKING_PASSWORD", secret("mlflow_admin_password"))
        # Fail fast instead of MLflow's long retry schedule when something is wrong.
        patch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
        # What the role publishes for clients outside the stack network (client_env): artifacts
        # through the server, not through presigned URLs of the store's internal name.
        patch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD", "false")
        patch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "false")
        mlflow.set_tracking_uri(MLFLOW)
        yield MlflowClient(MLFLOW)


@pytest.fixture(scope="session")
def logged_run(mlflow_client, tmp_path_factory):
    """A run with a param, a metric series and an artifact file, as a user logs it (before the
    `redeployed` run re-creates the server, so that it can be read back after)."""
    import mlflow  # noqa: PLC0415

    experiment_id = mlflow_client.create_experiment(f"tracking-test-{uuid.uuid4().hex[:8]}")
    artifact = tmp_path_factory.mktemp("artifacts") / "model-card.txt"
    artifact.write_text(f"model card {uuid.uuid4()}\n")
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_param("learning_rate", "0.01")
        for step, loss in enumerate([0.9, 0.5, 0.2]):
            mlflow.log_metric("loss", loss, step=step)
        mlflow.log_artifact(str(artifact))
    return {"experiment_id": experiment_id, "run_id": run.info.run_id, "artifact": artifact}


# The services that the localhost tests deploy again with settings of their own, and those
# settings. One site.yml run deploys them all: each service's re-creation and health wait is
# paid once, where a run per test paid the run's fixed cost too, several times over.
REDEPLOYED = ["otel_collector", "prometheus", "alertmanager", "mlflow", "celery_worker", "celery_beat"]


def redeployed_settings(sink, webhook):
    gateway = stack_network_gateway()
    return {
        # test_localhost_tasks.py: the worker's visibility timeout (a killed worker's step goes
        # back to the queue once it has passed: shortened, still longer than the test's 8 s
        # step), and beat's heartbeat every 5 s with a lock that a stopped scheduler's standby
        # waits 15 s for at most.
        "celery_app_visibility_timeout": 25,
        "celery_beat_heartbeat_seconds": 5,
        "celery_beat_lock_timeout": 15,
        # test_localhost_telemetry.py: the gateway exports logs to a sink on this machine as
        # well, Alertmanager sends to a webhook here, and Prometheus scrapes and evaluates every
        # 5 s (a change it takes by a reload).
        "otel_collector_extra_exporters": [
            {
                "name": "otlphttp/sink",
                "signals": ["logs"],
                "config": {"endpoint": f"http://{gateway}:{sink.port}", "encoding": "json"},
            }
        ],
        "alertmanager_receivers": [
            {"name": "discard"},
            {"name": "test-webhook", "webhook_configs": [{"url": f"http://{gateway}:{webhook.port}/"}]},
        ],
        "alertmanager_route": {
            "receiver": "test-webhook",
            "group_by": ["alertname", "job"],
            "group_wait": "1s",
            "group_interval": "5s",
            "repeat_interval": "1h",
        },
        "prometheus_scrape_interval": "5s",
        "prometheus_scrape_timeout": "4s",
        "prometheus_evaluation_interval": "5s",
        "prometheus_target_down_for": "10s",
        # test_localhost_tracking.py: a changed server configuration, which re-creates MLflow.
        "mlflow_workers": 1,
    }


def pytest_collection_modifyitems(items):
    """The tests that need the `redeployed` settings run last, in their order: those settings
    (Prometheus scraping every 5 s, beat's heartbeat every 5 s) load the machine more than the
    inventory's, for the rest of the session."""
    later = [item for item in items if "redeployed" in getattr(item, "fixturenames", ())]
    items[:] = [item for item in items if item not in later] + later


@pytest.fixture(scope="session")
def redeployed(services_to_put_back, logged_run):
    """One site.yml run (site_services) that deploys REDEPLOYED again with the settings above;
    they keep them until the session ends (services_to_put_back). Exactly those services
    change. What the tests compare with is taken before: Prometheus's start time (a reload
    keeps it) and MLflow's container (re-created)."""
    sink, webhook = Sink(), Webhook()
    services_to_put_back.update(REDEPLOYED)
    before = types.SimpleNamespace(prometheus_started=started_at("prometheus"), mlflow_container=container_id("mlflow"))
    try:
        extra = {"site_services": REDEPLOYED, **redeployed_settings(sink, webhook)}
        run = run_playbook("site.yml", "-e", json.dumps(extra))
        assert run.rc == 0, run.output[-3000:]
        assert service_steps(run) == dict.fromkeys(REDEPLOYED, "changed"), run.changed_tasks()
        yield types.SimpleNamespace(run=run, sink=sink, webhook=webhook, before=before)
    finally:
        sink.close()
        webhook.close()
