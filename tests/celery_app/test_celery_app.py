"""The reference Celery application (images/celery-app) against real Redis, Kafka and OpenBao:
its tasks answer by name, a workflow's events reach Kafka in order, a failing step reaches the
error topic, beat's heartbeat reaches the audit topic, and every password comes from Vault."""

import datetime
import os
import pathlib
import signal
import ssl
import sys
import time

import celery_servers
import kafka_broker
import pytest
from celery import Celery

sys.path.insert(0, str(celery_servers.APP_SOURCE))
from auterity.config import ConfigError, Settings  # noqa: E402
from auterity.events import EventPublisher  # noqa: E402
from auterity.vault import read_secrets  # noqa: E402
from kafka.admin import ScramMechanism, UserScramCredentialUpsertion  # noqa: E402

RESULT_TIMEOUT = 60


def assert_utc_timestamp(value):
    assert value.endswith("Z"), value
    parsed = datetime.datetime.fromisoformat(value)
    assert abs(datetime.datetime.now(datetime.UTC) - parsed) < datetime.timedelta(minutes=5)


def names(events):
    return [(event["event"], event.get("step")) for event in events]


def test_ping_answers_pong(worker, client):
    assert client.send_task("auterity.ping").get(timeout=RESULT_TIMEOUT) == "pong"


def test_three_step_workflow_completes_with_its_events_in_order(worker, client, events, workflow_id):
    steps = [
        {"name": "fetch", "action": "echo"},
        {"name": "think", "action": "sleep", "seconds": 0.5},
        {"name": "store", "action": "echo"},
    ]
    result = client.send_task("auterity.run_workflow", args=[workflow_id, steps]).get(timeout=RESULT_TIMEOUT)
    assert result == {"workflow_id": workflow_id, "status": "completed", "steps": 3}

    published = events.read("workflow-events", workflow_id, until=lambda found: len(found) >= 5)
    assert names(published) == [
        ("workflow.started", None),
        ("step.completed", "fetch"),
        ("step.completed", "think"),
        ("step.completed", "store"),
        ("workflow.completed", None),
    ]
    for event in published:
        assert event["workflow_id"] == workflow_id
        assert_utc_timestamp(event["ts"])


def test_failing_step_ends_the_workflow_failed_and_reaches_the_error_topic(worker, client, events, workflow_id):
    steps = [
        {"name": "fetch", "action": "echo"},
        {"name": "explode", "action": "fail"},
        {"name": "never", "action": "echo"},
    ]
    result = client.send_task("auterity.run_workflow", args=[workflow_id, steps]).get(timeout=RESULT_TIMEOUT)
    assert result["status"] == "failed"
    assert result["workflow_id"] == workflow_id and result["steps"] == 3
    assert result["failed_step"] == "explode"

    published = events.read("workflow-events", workflow_id, until=lambda found: len(found) >= 3)
    assert names(published) == [("workflow.started", None), ("step.completed", "fetch"), ("workflow.failed", "explode")]
    (error,) = events.read("error-events", workflow_id, until=lambda found: len(found) >= 1)
    assert error["event"] == "step.failed" and error["step"] == "explode" and "explode" in error["error"]
    assert_utc_timestamp(error["ts"])


def test_step_of_a_killed_worker_process_runs_again_and_publishes_once(worker, client, events, workflow_id):
    """acks_late and reject_on_worker_lost: the step whose process dies goes back to the queue;
    the workflow completes and each step.completed is in Kafka once."""
    steps = [{"name": "slow", "action": "sleep", "seconds": 4}, {"name": "after", "action": "echo"}]
    result = client.send_task("auterity.run_workflow", args=[workflow_id, steps])
    deadline = time.monotonic() + 30
    victim = None
    while victim is None and time.monotonic() < deadline:
        for tasks in (client.control.inspect(timeout=1).active() or {}).values():
            for task in tasks:
                if task["name"] == "auterity.run_step" and workflow_id in str(task["args"]):
                    victim = task["worker_pid"]
        time.sleep(0.2)
    assert victim, "the slow step never showed as active"
    # The prefork child that runs the step: a process of the worker this test started.
    os.kill(victim, signal.SIGKILL)

    assert result.get(timeout=RESULT_TIMEOUT) == {"workflow_id": workflow_id, "status": "completed", "steps": 2}
    published = events.read(
        "workflow-events",
        workflow_id,
        until=lambda found: found and found[-1]["event"] == "workflow.completed",
    )
    assert names(published) == [
        ("workflow.started", None),
        ("step.completed", "slow"),
        ("step.completed", "after"),
        ("workflow.completed", None),
    ]
    assert "WorkerLostError" in worker.log() or "exited prematurely" in worker.log()


def test_beat_schedules_the_heartbeat_to_the_audit_topic(worker, app_settings, this_host, events, tmp_path):
    env = celery_servers.app_environment(**app_settings, AUTERITY_BEAT_HEARTBEAT_SECONDS=1)
    beat = celery_servers.start_celery(
        tmp_path / "beat.log", "beat", "-S", "redbeat.RedBeatScheduler", "--loglevel=INFO", env=env
    )
    try:
        heartbeats = events.read("audit-events", this_host, until=lambda found: len(found) >= 2, timeout=40)
    except AssertionError:
        print(beat.log())
        raise
    finally:
        beat.stop()
    assert {event["event"] for event in heartbeats} == {"beat.heartbeat"}
    assert {event["scheduler"] for event in heartbeats} == {this_host}
    assert_utc_timestamp(heartbeats[-1]["ts"])


def test_health_pings_its_own_worker_and_leaves_no_vault_token(worker, worker_hostname, app_settings, vault):
    accessors = vault.client().list("auth/token/accessors")["data"]["keys"]
    env = celery_servers.app_environment(**app_settings, HOSTNAME=worker_hostname)
    healthy = celery_servers.run_app_command("auterity.health", env=env)
    assert healthy.returncode == 0, healthy.stderr
    assert f"celery@{worker_hostname}: pong" in healthy.stdout

    absent = celery_servers.run_app_command("auterity.health", "--timeout", "1", env={**env, "HOSTNAME": "nobody"})
    assert absent.returncode == 1
    assert "celery@nobody did not answer" in absent.stderr
    # Each check logged in to Vault and revoked its token.
    assert vault.client().list("auth/token/accessors")["data"]["keys"] == accessors


def test_worker_environment_has_no_password(worker, redis):
    environ = pathlib.Path(f"/proc/{worker.process.pid}/environ").read_bytes()
    assert redis.password.encode() not in environ
    assert b"AUTERITY_VAULT_APPROLE_FILE=" in environ


def test_wrong_secret_id_fails_clearly(app_settings, vault, approle, tmp_path):
    role_id, _ = approle
    wrong = celery_servers.write_approle_file(tmp_path / "wrong.env", vault.url, role_id, "not-the-secret-id")
    env = celery_servers.app_environment(**{**app_settings, "AUTERITY_VAULT_APPROLE_FILE": wrong})

    health = celery_servers.run_app_command("auterity.health", env=env)
    assert health.returncode == 1
    assert "refused the AppRole login" in health.stderr
    assert f"{wrong} (AUTERITY_VAULT_APPROLE_FILE)" in health.stderr

    worker = celery_servers.run_app_command("celery", "-A", "auterity", "worker", env=env)
    assert worker.returncode != 0
    assert "AUTERITY_VAULT_APPROLE_FILE" in worker.stderr + worker.stdout


def test_missing_approle_file_and_bad_settings_are_named(app_settings, tmp_path):
    env = celery_servers.app_environment(**{**app_settings, "AUTERITY_VAULT_APPROLE_FILE": tmp_path / "absent.env"})
    health = celery_servers.run_app_command("auterity.health", env=env)
    assert health.returncode == 1 and f"AUTERITY_VAULT_APPROLE_FILE={tmp_path / 'absent.env'}" in health.stderr

    settings = {key: str(value) for key, value in app_settings.items()}
    with pytest.raises(ConfigError, match="AUTERITY_VISIBILITY_TIMEOUT='soon' is not a number"):
        Settings.from_env({**settings, "AUTERITY_VISIBILITY_TIMEOUT": "soon"})
    with pytest.raises(ConfigError, match="AUTERITY_VAULT_KAFKA_PATH"):
        Settings.from_env({**settings, "AUTERITY_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"})
    with pytest.raises(ConfigError, match="AUTERITY_KAFKA_SECURITY_PROTOCOL='SSL' is not one of"):
        Settings.from_env({**settings, "AUTERITY_KAFKA_SECURITY_PROTOCOL": "ssl"})
    with pytest.raises(ConfigError, match="AUTERITY_KAFKA_BOOTSTRAP is not set"):
        Settings.from_env({key: value for key, value in settings.items() if key != "AUTERITY_KAFKA_BOOTSTRAP"})


def test_events_over_sasl_ssl_with_the_kafka_login_from_vault(app_settings, kafka, vault, workflow_id, tmp_path):
    """The SASL_SSL path: a SCRAM-SHA-512 user whose login the application reads from Vault."""
    user, password = f"app-{workflow_id}", f"pw-{workflow_id}-0123456789"
    with kafka.admin() as admin:
        assert not admin.alter_user_scram_credentials(
            [UserScramCredentialUpsertion(user, ScramMechanism.SCRAM_SHA_512, password, iterations=4096)]
        ).get(user)
    vault.client().secrets.kv.v2.create_or_update_secret(
        mount_point="secret",
        path="auterity/kafka/auterity",
        secret={"username": user, "password": password, "mechanism": "SCRAM-SHA-512"},
    )
    ca_file = tmp_path / "kafka-ca.pem"
    ca_file.write_text(kafka.pki.ca_pem)
    settings = Settings.from_env(
        {
            **{key: str(value) for key, value in app_settings.items()},
            "AUTERITY_KAFKA_BOOTSTRAP": kafka.secure_bootstrap,
            "AUTERITY_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "AUTERITY_KAFKA_CA_FILE": str(ca_file),
            "AUTERITY_VAULT_KAFKA_PATH": "auterity/kafka/auterity",
        }
    )
    secrets = read_secrets(settings)
    assert (secrets.kafka_username, secrets.kafka_mechanism) == (user, "SCRAM-SHA-512")
    assert password not in repr(secrets)
    publisher = EventPublisher(settings, secrets)
    try:
        publisher.publish("workflow-events", workflow_id, {"event": "workflow.started", "workflow_id": workflow_id})
    finally:
        publisher.close()
    reader = celery_servers.EventReader(
        kafka.secure_bootstrap,
        security_protocol="SASL_SSL",
        ssl_context=ssl.create_default_context(cadata=kafka.pki.ca_pem),
        sasl_mechanism="SCRAM-SHA-512",
        sasl_plain_username=user,
        sasl_plain_password=password,
    )
    (event,) = reader.read("workflow-events", workflow_id, until=lambda found: len(found) >= 1)
    assert event["event"] == "workflow.started"


OTEL_COLLECTOR_CONFIG = """
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{port}
exporters:
  debug:
    verbosity: detailed
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [debug]
"""


def spans_in(collector_log):
    """(trace id, span name) of each span that the debug exporter printed."""
    spans, trace_id = [], None
    for line in collector_log.splitlines():
        field, _, value = line.strip().partition(": ")
        if field.strip() == "Trace ID":
            trace_id = value.strip()
        elif field.strip() == "Name" and trace_id:
            spans.append((trace_id, value.strip()))
            trace_id = None
    return spans


def test_a_workflow_is_one_trace_with_a_span_per_step(app_settings, redis, workflow_id, tmp_path):
    """Traces over OTLP/HTTP to the project's OpenTelemetry Collector (its debug exporter shows
    what arrived). The traced worker has broker databases of its own, so that it alone runs the
    workflow's tasks."""
    port = kafka_broker.free_port()
    config = tmp_path / "collector.yaml"
    config.write_text(OTEL_COLLECTOR_CONFIG.format(port=port))
    config.chmod(0o644)
    collector = "celery-app-test-otel-collector"
    image = celery_servers.project_image("otel-collector")
    celery_servers.docker("rm", "--force", collector, check=False)
    celery_servers.docker(
        "run", "--detach", "--name", collector, "--network", "host",
        "--volume", f"{config}:/etc/otelcol/config.yaml:ro", image,
    )  # fmt: skip
    env = celery_servers.app_environment(
        **app_settings,
        AUTERITY_REDIS_BROKER_DB=2,
        AUTERITY_REDIS_RESULT_DB=3,
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{port}",
        OTEL_SERVICE_NAME="celery-worker",
        OTEL_BSP_SCHEDULE_DELAY=200,
    )
    hostname = f"celery@traced-{workflow_id}"
    traced = celery_servers.start_celery(
        tmp_path / "worker.log", "worker", "--pool=prefork", "--concurrency=1", f"--hostname={hostname}", env=env
    )
    client = Celery("celery-app-tests-traced", broker=redis.url(2), backend=redis.url(3))
    client.conf.broker_connection_retry_on_startup = True
    try:
        steps = [{"name": name, "action": "echo"} for name in ("one", "two", "three")]
        result = client.send_task("auterity.run_workflow", args=[workflow_id, steps]).get(timeout=RESULT_TIMEOUT)
        assert result["status"] == "completed"
        wanted = ["run/auterity.run_workflow"] + ["run/auterity.run_step"] * 3 + ["run/auterity.finish_workflow"]

        def runs():
            log = celery_servers.docker("logs", collector, check=False)
            return [span for span in spans_in(log.stdout + log.stderr) if span[1].startswith("run/")]

        deadline = time.monotonic() + 30
        while len(runs()) < len(wanted) and time.monotonic() < deadline:
            time.sleep(0.5)
        spans = runs()
        assert sorted(name for _, name in spans) == sorted(wanted), traced.log()[-3000:]
        assert len({trace_id for trace_id, _ in spans}) == 1, spans
    finally:
        client.close()
        traced.stop()
        celery_servers.docker("rm", "--force", collector, check=False)
