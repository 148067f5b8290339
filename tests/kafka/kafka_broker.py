"""Throwaway Kafka brokers (KRaft) in containers of the project's own image, for tests and benchmarks.

The first node is broker and controller at once; more broker-only nodes can join its cluster. The
nodes share a Docker network on which they reach each other by container name (the INTERNAL
listener, for replication, and the controller listener). Each node's client listener uses the
same port number inside the container as on the host's loopback and advertises
127.0.0.1:<port>, so clients on this host and the tools inside the container
(docker exec ... kafka-topics.sh) reach it at one address.

A node started with `secure` also has a SASL_SSL listener (SASL PLAIN, user SASL_USER with
SASL_PASSWORD; SCRAM-SHA-512 for the users kafka_user creates) with a certificate from a
throwaway CA, the node's `pki`.

The image is KAFKA_TEST_IMAGE when set, else the newest auterity/kafka image on this engine;
when there is none, playbooks/images.yml builds it from images/kafka/.
"""

import base64
import os
import pathlib
import secrets
import sys
import time
import warnings
from dataclasses import dataclass
from typing import NamedTuple

import containers
import kafka_tls
from containers import docker, free_port  # noqa: F401 (callers use kafka_broker.free_port)
from project import run_playbook

with warnings.catch_warnings():
    # kafka-python 3.0 reads its protocol schemas at import time through importlib.resources
    # calls that Python 3.11 deprecates; the warnings say nothing about the code under test.
    warnings.filterwarnings("ignore", r"(read|open)_text is deprecated", DeprecationWarning)
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

ROOT = pathlib.Path(__file__).resolve().parents[2]
IMAGE_REPOSITORY = "auterity/kafka"
NETWORK = "kafka-test-net"
START_TIMEOUT = 120
CONTROLLER_PORT = 9093
INTERNAL_PORT = 9094
SASL_USER = "kafka-admin"
SASL_PASSWORD = "s3cret-kafka-admin-password"
TLS_DIR = "/opt/kafka/config/tls"

SERVER_PROPERTIES = """\
process.roles={roles}
node.id={node_id}
controller.quorum.voters={voters}
listeners={listeners}
advertised.listeners={advertised}
controller.listener.names=CONTROLLER
inter.broker.listener.name=INTERNAL
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT,SECURE:SASL_SSL
log.dirs=/var/lib/kafka/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
"""

SECURE_PROPERTIES = """\
listener.name.secure.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-512
listener.name.secure.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.secure.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required \\
  user_{user}="{password}";
listener.name.secure.ssl.keystore.type=PEM
listener.name.secure.ssl.keystore.location={tls_dir}/server.pem
"""


def newest_image():
    return containers.newest_image(IMAGE_REPOSITORY)


def kafka_image():
    """The image to run: KAFKA_TEST_IMAGE, else the newest built one, else one built now."""
    if os.environ.get("KAFKA_TEST_IMAGE"):
        return os.environ["KAFKA_TEST_IMAGE"]
    image = newest_image()
    if image is None:
        build = run_playbook("images.yml", "-e", '{"images_recipes": ["kafka"]}')
        image = newest_image()
        if image is None:
            raise RuntimeError(f"playbooks/images.yml built no {IMAGE_REPOSITORY} image:\n{build.output[-3000:]}")
    return image


def new_cluster_id():
    """What kafka-storage.sh random-uuid prints: 16 random bytes, URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")


class TopicState(NamedTuple):
    partitions: int
    replication_factor: int
    config: dict


def topic_state(admin, name):
    """A topic's partition count, replication factor and topic-level overrides as the broker reports
    them, or None when the topic does not exist."""
    (topic,) = admin.describe_topics([name])
    if topic["error_code"] == 3:  # UNKNOWN_TOPIC_OR_PARTITION
        return None
    assert topic["error_code"] == 0, topic
    described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)], config_filter="all")
    overrides = {
        key: entry["value"]
        for key, entry in described["topic"][name].items()
        if entry["config_source"] == "DYNAMIC_TOPIC_CONFIG"
    }
    replicas = {len(partition["replica_nodes"]) for partition in topic["partitions"]}
    assert len(replicas) == 1, topic
    return TopicState(len(topic["partitions"]), replicas.pop(), overrides)


def replica_assignment(admin, name):
    """{partition: [broker ids]} of a topic, the preferred leader first."""
    (topic,) = admin.describe_topics([name])
    return {partition["partition_index"]: partition["replica_nodes"] for partition in topic["partitions"]}


@dataclass
class KafkaBroker:
    container: str
    node_id: int
    port: int
    image: str
    cluster_id: str
    secure_port: int | None = None
    pki: kafka_tls.Pki | None = None

    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.port}"

    @property
    def secure_bootstrap(self):
        return f"127.0.0.1:{self.secure_port}"

    def admin(self, **options):
        """An admin client of the caller's own, to check the cluster's state independently of the module."""
        return KafkaAdminClient(bootstrap_servers=[self.bootstrap], client_id="kafka-test-check", **options)

    def exec(self, *command, timeout=120):
        return docker("exec", self.container, *command, check=False, timeout=timeout)

    def logs(self):
        return docker("logs", "--tail", "200", self.container, check=False).stdout

    def stop(self):
        """Stop gracefully first, so the controller fences the broker at once, then remove it."""
        docker("stop", "--time", "20", self.container, check=False, timeout=60)
        docker("rm", "--force", "--volumes", self.container, check=False)
        # The network goes with the last node that uses it (removal fails while one still does).
        docker("network", "rm", NETWORK, check=False)


def start(workdir, name="kafka-test-broker", *, node_id=1, controller=None, image=None, wait=True, secure=False):
    """Start a node (replacing a leftover container of the same name) and wait until it serves.

    Without `controller` the node is broker and controller of a new single-node cluster; with
    one (a running KafkaBroker) it is a broker that joins that node's cluster. wait=False
    returns as soon as the container runs, with Kafka still starting. secure=True adds the
    SASL_SSL listener.
    """
    image = image or (controller.image if controller else kafka_image())
    cluster_id = controller.cluster_id if controller else new_cluster_id()
    voter = f"{controller.node_id}@{controller.container}" if controller else f"{node_id}@{name}"
    broker = KafkaBroker(name, node_id, free_port(), image, cluster_id)
    listeners = [f"PLAINTEXT://:{broker.port}", f"INTERNAL://:{INTERNAL_PORT}"]
    advertised = [f"PLAINTEXT://{broker.bootstrap}", f"INTERNAL://{name}:{INTERNAL_PORT}"]
    if controller is None:
        listeners.append(f"CONTROLLER://:{CONTROLLER_PORT}")
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    properties = SERVER_PROPERTIES
    run_options = ["--publish", f"127.0.0.1:{broker.port}:{broker.port}"]
    if secure:
        broker.secure_port = free_port()
        broker.pki = kafka_tls.make_pki()
        listeners.append(f"SECURE://:{broker.secure_port}")
        advertised.append(f"SECURE://{broker.secure_bootstrap}")
        properties += SECURE_PROPERTIES.format(user=SASL_USER, password=SASL_PASSWORD, tls_dir=TLS_DIR)
        tls_dir = workdir / f"{name}-tls"
        tls_dir.mkdir(exist_ok=True)
        (tls_dir / "server.pem").write_text(broker.pki.server_pem)
        for path in (tls_dir, tls_dir / "server.pem"):
            path.chmod(0o755 if path.is_dir() else 0o644)  # read by the container's uid 1000
        run_options += [
            "--publish",
            f"127.0.0.1:{broker.secure_port}:{broker.secure_port}",
            "--volume",
            f"{tls_dir}:{TLS_DIR}:ro",
        ]
    config = workdir / f"{name}.properties"
    config.write_text(
        properties.format(
            roles="broker" if controller else "broker,controller",
            node_id=node_id,
            voters=f"{voter}:{CONTROLLER_PORT}",
            listeners=",".join(listeners),
            advertised=",".join(advertised),
        )
    )
    config.chmod(0o644)
    docker("rm", "--force", "--volumes", name, check=False)
    if docker("network", "inspect", NETWORK, check=False).returncode != 0:
        docker("network", "create", NETWORK)
    docker(
        "run",
        "--detach",
        "--name",
        name,
        "--network",
        NETWORK,
        *run_options,
        "--env",
        "KAFKA_HEAP_OPTS=-Xmx512m -Xms512m",
        # The JIT's first tier only: about 40% less processor time to start the broker (and the
        # tools run in its container) on a machine the tests share; throughput does not matter here.
        "--env",
        "KAFKA_OPTS=-XX:TieredStopAtLevel=1",
        "--env",
        f"KAFKA_CLUSTER_ID={cluster_id}",
        "--volume",
        f"{config}:/opt/kafka/config/server.properties:ro",
        image,
    )
    if not wait:
        return broker
    try:
        wait_ready(broker, create_offsets_topic=controller is None)
    except BaseException:
        print(broker.logs(), file=sys.stderr)
        broker.stop()
        raise
    return broker


def wait_ready(broker, create_offsets_topic=True, timeout=START_TIMEOUT):
    """Ready means: the node is a registered, unfenced broker of its cluster; and, for a new
    cluster, the group coordinator's internal topic exists (asking for a group's coordinator makes
    the broker create __consumer_offsets, which the tests about internal topics rely on)."""
    deadline = time.monotonic() + timeout
    last_problem = None
    while time.monotonic() < deadline:
        try:
            with broker.admin(bootstrap_timeout_ms=3000, request_timeout_ms=5000) as admin:
                brokers = admin.describe_cluster()["brokers"]
                if any(b["broker_id"] == broker.node_id and not b.get("is_fenced") for b in brokers):
                    if not create_offsets_topic:
                        return
                    admin.describe_groups(["kafka-test-ready"])
                    if "__consumer_offsets" in admin.list_topics():
                        return
                last_problem = f"brokers so far: {brokers}"
        except Exception as error:  # noqa: BLE001 - anything means "not yet"
            last_problem = error
        time.sleep(1)
    raise TimeoutError(f"Kafka in {broker.container} not ready after {timeout} s: {last_problem}")
