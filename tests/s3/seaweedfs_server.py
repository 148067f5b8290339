"""A throwaway SeaweedFS S3 server in a container of the project's own image, for the s3_buckets tests.

It runs as roles/s3 runs it (`weed server -s3`, identities from a read-only s3.json, no IAM API),
its S3 port published on a free loopback port. The identities are those roles/s3/templates/s3.json.j2
writes: the admin key (every action) and one consumer key whose actions name its bucket only.

The image is the newest auterity/seaweedfs one on this engine (playbooks/images.yml builds it
from images/seaweedfs/); start() returns None when there is none.
"""

import json
import pathlib
import secrets
import time
from dataclasses import dataclass

import boto3
import containers
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from containers import docker, free_port  # noqa: F401 (the tests use seaweedfs_server.free_port)

IMAGE_REPOSITORY = "auterity/seaweedfs"
S3_PORT = 9000  # inside the container, as roles/s3 sets it
CONFIG_DIR = "/etc/s3"
START_TIMEOUT = 90


def newest_image():
    return containers.newest_image(IMAGE_REPOSITORY)


@dataclass(frozen=True)
class Key:
    access_key_id: str
    secret_access_key: str


def new_key():
    return Key(f"AK{secrets.token_hex(8).upper()}", secrets.token_urlsafe(30))


def identities(admin, consumer, consumer_buckets):
    """s3.json as roles/s3/templates/s3.json.j2 renders it for the admin and one consumer."""
    actions = ("Read", "Write", "List", "Tagging")
    consumer_actions = [f"{action}:{bucket}" for bucket in consumer_buckets for action in actions]
    return {
        "identities": [
            {
                "name": "admin",
                "credentials": [{"accessKey": admin.access_key_id, "secretKey": admin.secret_access_key}],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"],
            },
            {
                "name": "consumer",
                "credentials": [{"accessKey": consumer.access_key_id, "secretKey": consumer.secret_access_key}],
                "actions": consumer_actions,
            },
        ]
    }


def command(s3_config):
    """roles/s3/vars/main.yml's s3_seaweedfs_command, with the role's defaults."""
    return [
        "server",
        "-dir=/data",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-s3",
        "-s3.ip.bind=0.0.0.0",
        f"-s3.port={S3_PORT}",
        f"-s3.config={s3_config}",
        "-s3.iam=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-metricsPort=9327",
        "-metricsIp=0.0.0.0",
        "-master.telemetry=false",
        "-master.volumeSizeLimitMB=1024",
        "-volume.max=100",
    ]


@dataclass
class SeaweedFS:
    container: str
    image: str
    endpoint_url: str
    admin: Key
    consumer: Key
    consumer_bucket: str

    def client(self, key=None, timeout=5):
        """A boto3 client of the caller's own (the admin's by default), to check the server's state
        independently of the module."""
        key = key or self.admin
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=key.access_key_id,
            aws_secret_access_key=key.secret_access_key,
            region_name="us-east-1",
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                connect_timeout=timeout,
                read_timeout=timeout,
                retries={"max_attempts": 1},
            ),
        )

    def buckets(self):
        """The names of the buckets on the server."""
        return {bucket["Name"] for bucket in self.client().list_buckets()["Buckets"]}

    def logs(self):
        return docker("logs", "--tail", "200", self.container, check=False).stdout

    def stop(self):
        docker("rm", "--force", "--volumes", self.container, check=False)


def wait_ready(server):
    """Block until the S3 API answers a request signed with the admin key."""
    deadline = time.monotonic() + START_TIMEOUT
    client = server.client(timeout=2)
    while time.monotonic() < deadline:
        state = docker("inspect", "--format", "{{.State.Status}}", server.container, check=False).stdout.strip()
        if state != "running":
            raise RuntimeError(f"SeaweedFS container is {state or 'gone'} while starting:\n{server.logs()}")
        try:
            client.list_buckets()
            return
        except (BotoCoreError, ClientError):
            time.sleep(0.3)
    raise RuntimeError(f"SeaweedFS's S3 API did not answer within {START_TIMEOUT}s:\n{server.logs()}")


def start(workdir):
    """Start a server with an admin key and a consumer key limited to its bucket (which the admin
    creates), and wait until it serves; None when no image is on the engine."""
    image = newest_image()
    if image is None:
        return None
    workdir = pathlib.Path(workdir)
    config_dir = workdir / "s3"
    config_dir.mkdir(parents=True, exist_ok=True)
    admin, consumer = new_key(), new_key()
    consumer_bucket = f"consumer-{secrets.token_hex(4)}"
    config = config_dir / "s3.json"
    config.write_text(json.dumps(identities(admin, consumer, [consumer_bucket]), indent=2))
    # Read by the container's uid 1000; the keys are the test's own, thrown away with it.
    config_dir.chmod(0o755)
    config.chmod(0o644)
    port = free_port()
    server = SeaweedFS(
        container=f"s3-buckets-test-{secrets.token_hex(4)}",
        image=image,
        endpoint_url=f"http://127.0.0.1:{port}",
        admin=admin,
        consumer=consumer,
        consumer_bucket=consumer_bucket,
    )
    docker(
        "run",
        "--detach",
        "--name",
        server.container,
        "--publish",
        f"127.0.0.1:{port}:{S3_PORT}",
        "--volume",
        f"{config_dir}:{CONFIG_DIR}:ro",
        "--entrypoint",
        "/usr/bin/weed",
        image,
        *command(f"{CONFIG_DIR}/s3.json"),
    )
    try:
        wait_ready(server)
        server.client().create_bucket(Bucket=consumer_bucket)
    except BaseException:
        server.stop()
        raise
    return server
