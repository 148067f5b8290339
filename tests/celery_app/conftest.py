"""Fixtures for the reference Celery application's tests: real Redis, Kafka (with its SASL_SSL
listener) and OpenBao for the whole module, the application's worker running against them, and
a Celery client of the tests' own that calls the tasks by name, as any caller of the
application does."""

import pathlib
import secrets
import socket
import sys
import time
import warnings

import pytest

HERE = pathlib.Path(__file__).resolve().parent
# tests/ (project.py), and the Kafka and OpenBao starters of the kafka_topic and vault_seed tests.
for helpers in (HERE.parent, HERE.parent / "kafka", HERE.parent / "vault"):
    if str(helpers) not in sys.path:
        sys.path.insert(0, str(helpers))

import celery_servers  # noqa: E402
import kafka_broker  # noqa: E402
import openbao  # noqa: E402
from celery import Celery  # noqa: E402

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", r"(read|open)_text is deprecated", DeprecationWarning)
    from kafka.admin import NewTopic  # noqa: E402

WORKER_START_TIMEOUT = 60


@pytest.fixture(scope="session")
def redis():
    server = celery_servers.start_redis(kafka_broker.free_port())
    yield server
    server.stop()


@pytest.fixture(scope="session")
def kafka(tmp_path_factory):
    broker = kafka_broker.start(tmp_path_factory.mktemp("kafka"), name="celery-app-test-kafka", secure=True)
    with broker.admin() as admin:
        admin.create_topics([NewTopic(topic, 1, 1) for topic in celery_servers.TOPICS])
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def vault(tmp_path_factory):
    server = openbao.start_dev(tmp_path_factory.mktemp("openbao"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def approle(vault, redis, tmp_path_factory):
    """(role_id, secret_id) of the application's AppRole, with its secrets in Vault."""
    return celery_servers.seed_vault(vault, redis)


@pytest.fixture(scope="session")
def approle_file(vault, approle, tmp_path_factory):
    return celery_servers.write_approle_file(
        tmp_path_factory.mktemp("approle") / "vault-approle.env", vault.url, *approle
    )


@pytest.fixture(scope="session")
def app_settings(vault, kafka, approle_file):
    """The application's environment as the roles set it (no password in it)."""
    return {
        "AUTERITY_VAULT_ADDR": vault.url,
        "AUTERITY_VAULT_APPROLE_FILE": approle_file,
        "AUTERITY_KAFKA_BOOTSTRAP": kafka.bootstrap,
        "AUTERITY_VISIBILITY_TIMEOUT": 60,
    }


@pytest.fixture(scope="session")
def worker_hostname():
    return f"celery-app-test-{secrets.token_hex(3)}"


@pytest.fixture(scope="session")
def client(redis):
    """The tests' own Celery client: it knows the tasks by name only."""
    app = Celery("celery-app-tests", broker=redis.url(0), backend=redis.url(1))
    app.conf.update(broker_connection_retry_on_startup=True, result_extended=True)
    yield app
    app.close()


@pytest.fixture(scope="session")
def worker(app_settings, worker_hostname, client, tmp_path_factory):
    """The application's worker: prefork with two processes, as in the container."""
    env = celery_servers.app_environment(**app_settings)
    process = celery_servers.start_celery(
        tmp_path_factory.mktemp("worker") / "worker.log",
        "worker", "--loglevel=INFO", "--pool=prefork", "--concurrency=2", f"--hostname=celery@{worker_hostname}",
        env=env,
    )  # fmt: skip
    node = f"celery@{worker_hostname}"
    deadline = time.monotonic() + WORKER_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.process.poll() is not None:
            pytest.fail(f"the worker exited ({process.process.returncode}):\n{process.log()}")
        if client.control.ping(destination=[node], timeout=1):
            break
    else:
        process.stop()
        pytest.fail(f"the worker did not answer a ping within {WORKER_START_TIMEOUT} s:\n{process.log()}")
    yield process
    process.stop()
    print(process.log()[-5000:])


@pytest.fixture(scope="session")
def events(kafka):
    return celery_servers.EventReader(kafka.bootstrap)


@pytest.fixture
def workflow_id():
    return f"wf-{secrets.token_hex(6)}"


@pytest.fixture(scope="session")
def this_host():
    return socket.gethostname()
