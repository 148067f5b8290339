"""The application's image (images/celery-app) as the celery_worker, celery_beat and flower
roles run it: `celery -A auterity worker|beat|flower` as uid 10001, the AppRole file mounted,
settings in the environment; the worker's healthcheck `python -m auterity.health`; Flower's
login (basic_auth in its --conf file) and /metrics.

The containers use the host's network: the test servers listen on this host's loopback (Kafka
advertises 127.0.0.1), as the stack's containers reach theirs on the stack network."""

import base64
import os
import secrets
import shutil
import socket
import time
import urllib.error
import urllib.request

import celery_servers
import kafka_broker
import pytest

APPROLE_IN_CONTAINER = "/run/secrets/vault-approle.env"
FLOWER_CONF_IN_CONTAINER = "/etc/flower/flowerconfig.py"
APP_UID = 10001


@pytest.fixture(scope="module")
def image():
    return celery_servers.project_image("celery-app")


@pytest.fixture(scope="module")
def mounted_approle(approle_file, tmp_path_factory):
    """The AppRole file as the application's user owns it in a deployment (0600)."""
    copy = tmp_path_factory.mktemp("image-approle") / "vault-approle.env"
    shutil.copy(approle_file, copy)
    os.chown(copy, APP_UID, APP_UID)
    copy.chmod(0o600)
    return copy


@pytest.fixture(scope="module")
def run_app(image, app_settings, mounted_approle):
    """Start a container of the image with the application's settings; removed at the end."""
    started = []

    def run(name, *command, env=None, volumes=()):
        settings = {**app_settings, "AUTERITY_VAULT_APPROLE_FILE": APPROLE_IN_CONTAINER, **(env or {})}
        options = ["--detach", "--name", name, "--network", "host", "--user", f"{APP_UID}:{APP_UID}"]
        options += ["--volume", f"{mounted_approle}:{APPROLE_IN_CONTAINER}:ro"]
        for volume in volumes:
            options += ["--volume", volume]
        for key, value in settings.items():
            options += ["--env", f"{key}={value}"]
        celery_servers.docker("rm", "--force", name, check=False)
        celery_servers.docker("run", *options, image, *command)
        started.append(name)
        return name

    yield run
    for name in started:
        celery_servers.docker("rm", "--force", name, check=False)


def logs(container):
    done = celery_servers.docker("logs", container, check=False)
    return done.stdout + done.stderr


def wait_for(check, what, container, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    pytest.fail(f"{what} within {timeout} s; {container} logged:\n{logs(container)[-4000:]}")


def test_worker_answers_its_healthcheck_and_runs_tasks(run_app, client):
    # A queue of its own (`-Q`, Celery's worker option; the application routes nothing itself):
    # the session's worker on the same Redis consumes the default queue, so only the container
    # under test can run a task sent here.
    queue = f"celery-app-test-image-{secrets.token_hex(4)}"
    container = run_app(
        "celery-app-test-image-worker", "celery", "-A", "auterity", "worker", "--concurrency=1", "-Q", queue
    )
    health = ["exec", container, "python", "-m", "auterity.health"]
    wait_for(lambda: celery_servers.docker(*health, check=False).returncode == 0, "no healthy worker", container)
    node = f"celery@{socket.gethostname()}"
    assert celery_servers.docker(*health, check=False).stdout.strip() == f"{node}: pong"
    ping = client.send_task("auterity.ping", queue=queue)
    assert ping.get(timeout=30) == "pong"
    # The result (result_extended) names the worker that ran the task: the container's node.
    assert ping.worker == node
    user = celery_servers.docker("exec", container, "id", "-u").stdout.strip()
    assert user == str(APP_UID)


def test_beat_sends_the_heartbeat_through_redbeat(run_app):
    container = run_app(
        "celery-app-test-image-beat",
        "celery", "-A", "auterity", "beat", "-S", "redbeat.RedBeatScheduler", "--loglevel=INFO",
        env={"AUTERITY_BEAT_HEARTBEAT_SECONDS": 2},
    )  # fmt: skip
    wait_for(lambda: "Sending due task auterity-heartbeat" in logs(container), "beat sent no heartbeat", container)


def test_flower_asks_for_its_login_and_serves_metrics(run_app, tmp_path):
    port = kafka_broker.free_port()
    conf = tmp_path / "flowerconfig.py"
    conf.write_text(f'basic_auth = ["flower:flower-test-password"]\naddress = "127.0.0.1"\nport = {port}\n')
    os.chown(conf, APP_UID, APP_UID)
    conf.chmod(0o400)
    container = run_app(
        "celery-app-test-image-flower",
        "celery", "-A", "auterity", "flower", f"--conf={FLOWER_CONF_IN_CONTAINER}",
        volumes=[f"{conf}:{FLOWER_CONF_IN_CONTAINER}:ro"],
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    login = base64.b64encode(b"flower:flower-test-password").decode()

    def get(path, authorization=None):
        request = urllib.request.Request(url + path)
        if authorization:
            request.add_header("Authorization", f"Basic {authorization}")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, ""
        except OSError:
            return None, ""

    wait_for(lambda: get("/healthcheck")[0] is not None, "Flower did not listen", container)
    assert get("/")[0] == 401
    assert get("/", base64.b64encode(b"flower:wrong").decode())[0] == 401
    assert get("/", login)[0] == 200
    # Flower 2.2.0 serves /metrics with or without the login (Prometheus sends it anyway).
    status, metrics = get("/metrics", login)
    assert status == 200
    assert "flower_events_total" in metrics or "flower_worker_online" in metrics
