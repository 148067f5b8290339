"""The servers the reference Celery application (images/celery-app) talks to, started for its
tests: Redis from the project's image, Kafka (tests/kafka/kafka_broker.py), OpenBao
(tests/vault/openbao.py) with the AppRole, policy and secrets that the vault role seeds; and
the application's worker and beat as processes of this interpreter, with its package on
PYTHONPATH and its settings in the environment, as the container runs them."""

import json
import os
import pathlib
import secrets
import signal
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field

import yaml
from project import ROOT, run_playbook

with warnings.catch_warnings():
    # kafka-python 3.0 reads its protocol schemas through importlib.resources calls that
    # Python 3.11 deprecates; the warnings say nothing about the code under test.
    warnings.filterwarnings("ignore", r"(read|open)_text is deprecated", DeprecationWarning)
    from kafka import KafkaConsumer, TopicPartition

APP_SOURCE = ROOT / "images" / "celery-app"
TOPICS = ("workflow-events", "error-events", "audit-events")
# The backend's policy and AppRole as the vault role seeds them (its defaults), which the
# application logs in with.
_VAULT_DEFAULTS = yaml.safe_load((ROOT / "roles/vault/defaults/main.yml").read_text())
(APP_APPROLE,) = [role for role in _VAULT_DEFAULTS["vault_seed_approles"] if role["name"] == "backend"]
APP_POLICIES = [
    policy for policy in _VAULT_DEFAULTS["vault_seed_policies"] if policy["name"] in APP_APPROLE["token_policies"]
]


def docker(*args, check=True, timeout=120):
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, timeout=timeout)


def newest_image(repository):
    listing = docker("images", repository, "--format", "{{json .}}").stdout.splitlines()
    images = sorted((json.loads(line) for line in listing), key=lambda image: image["CreatedAt"], reverse=True)
    return f"{repository}:{images[0]['Tag']}" if images else None


def project_image(recipe):
    """The project's image of images/<recipe>/: the newest one built here, else one built now."""
    repository = f"auterity/{recipe}"
    image = newest_image(repository)
    if image is None:
        build = run_playbook("images.yml", "-e", json.dumps({"images_recipes": [recipe]}))
        image = newest_image(repository)
        if image is None:
            raise RuntimeError(f"playbooks/images.yml built no {repository} image:\n{build.output[-3000:]}")
    return image


@dataclass
class RedisServer:
    container: str
    port: int
    password: str = field(repr=False)

    def url(self, db):
        return f"redis://:{self.password}@127.0.0.1:{self.port}/{db}"

    def stop(self):
        docker("rm", "--force", "--volumes", self.container, check=False)


def start_redis(port, name="celery-app-test-redis"):
    password = secrets.token_urlsafe(24)
    docker("rm", "--force", "--volumes", name, check=False)
    # The password is on the command line of a throwaway test server only.
    docker(
        "run", "--detach", "--name", name, "--publish", f"127.0.0.1:{port}:{port}", project_image("redis"),
        "redis-server", "--port", str(port), "--requirepass", password, "--save", "", "--appendonly", "no",
    )  # fmt: skip
    server = RedisServer(name, port, password)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ping = docker(
            "exec", "-e", f"REDISCLI_AUTH={password}", name, "redis-cli", "-p", str(port), "ping", check=False
        )
        if ping.stdout.strip() == "PONG":
            return server
        time.sleep(0.3)
    logs = docker("logs", name, check=False)
    server.stop()
    raise RuntimeError(f"Redis did not answer within 30 s:\n{logs.stdout}{logs.stderr}")


def seed_vault(vault, redis):
    """What the vault and redis roles leave in Vault for the application: the backend AppRole
    with its policies (the vault role's defaults), and the Redis password at
    secret/auterity/redis."""
    client = vault.client()
    client.sys.enable_auth_method("approle")
    for policy in APP_POLICIES:
        client.sys.create_or_update_policy(policy["name"], policy["rules"])
    approle = {key: value for key, value in APP_APPROLE.items() if key != "name"}
    client.auth.approle.create_or_update_approle(APP_APPROLE["name"], **approle)
    client.secrets.kv.v2.create_or_update_secret(
        mount_point="secret",
        path="auterity/redis",
        secret={"password": redis.password, "host": "127.0.0.1", "port": str(redis.port)},
    )
    role_id = client.auth.approle.read_role_id(APP_APPROLE["name"])["data"]["role_id"]
    secret_id = client.auth.approle.generate_secret_id(APP_APPROLE["name"])["data"]["secret_id"]
    return role_id, secret_id


def write_approle_file(path, vault_url, role_id, secret_id):
    """The env file the vault role writes for the backend (0600)."""
    path = pathlib.Path(path)
    path.write_text(f"VAULT_ADDR={vault_url}\nVAULT_ROLE_ID={role_id}\nVAULT_SECRET_ID={secret_id}\n")
    path.chmod(0o600)
    return path


def app_environment(**settings):
    """This process's environment without Vault or application settings of its own, with the
    application's package importable and the given AUTERITY_* settings."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AUTERITY_", "VAULT_", "OTEL_"))}
    env["PYTHONPATH"] = str(APP_SOURCE)
    env.update({key: str(value) for key, value in settings.items()})
    return env


def run_app_command(*args, env, timeout=60):
    """`python -m <args>` with the application's environment, to its end."""
    return subprocess.run(
        [sys.executable, "-m", *args],
        check=False,
        env=env,
        cwd=APP_SOURCE,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@dataclass
class AppProcess:
    """A worker or beat: `celery -A auterity ...` running in the background."""

    process: subprocess.Popen
    log_path: pathlib.Path

    def log(self):
        return self.log_path.read_text(errors="replace")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_celery(log_path, *args, env):
    with pathlib.Path(log_path).open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "auterity", *args],
            env=env,
            cwd=APP_SOURCE,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return AppProcess(process, pathlib.Path(log_path))


class EventReader:
    """Reads a topic from its beginning, the events of one key (a workflow id) in their order."""

    def __init__(self, bootstrap, **options):
        self.bootstrap = bootstrap
        self.options = options

    def read(self, topic, key, until, timeout=30):
        """The events with this key, once until(events) is true; fails after the timeout."""
        consumer = KafkaConsumer(
            bootstrap_servers=[self.bootstrap], enable_auto_commit=False, group_id=None, **self.options
        )
        try:
            partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
            consumer.assign(partitions)
            consumer.seek_to_beginning(*partitions)
            events = []
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                for records in consumer.poll(timeout_ms=500).values():
                    events += [json.loads(r.value) for r in records if r.key and r.key.decode() == key]
                if until(events):
                    return events
            raise AssertionError(f"{topic}: after {timeout} s the events of {key!r} are only {events}")
        finally:
            consumer.close()
