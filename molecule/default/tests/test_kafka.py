"""Kafka on the all-in-one host, checked through its advertised listener with a real client."""

import os
import pathlib
import time
import uuid

import yaml
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

CREDENTIALS = pathlib.Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "credentials"


def advertised_client_listener(host):
    properties = dict(
        line.split("=", 1)
        for line in host.file("/opt/auterity/kafka/server.properties").content_string.splitlines()
        if "=" in line and not line.startswith("#")
    )
    listeners = dict(entry.split("://") for entry in properties["advertised.listeners"].split(","))
    return listeners["CLIENT"]


def wait_healthy(host, name, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if host.run(f"docker inspect -f '{{{{.State.Health.Status}}}}' {name}").stdout.strip() == "healthy":
            return
        time.sleep(2)
    raise AssertionError(f"{name} did not become healthy")


def produce(bootstrap, topic, value):
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    producer.send(topic, value.encode()).get(timeout=30)
    producer.close()


def consume_all(bootstrap, topic, timeout=30):
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"check-{uuid.uuid4()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=timeout * 1000,
    )
    try:
        return [message.value.decode() for message in consumer]
    finally:
        consumer.close()


def test_the_stack_topics_exist_with_their_settings(host):
    admin = KafkaAdminClient(bootstrap_servers=advertised_client_listener(host))
    try:
        names = ["workflow-events", "error-events", "audit-events"]
        described = {topic["name"]: topic for topic in admin.describe_topics(names)}
    finally:
        admin.close()
    for name in ("workflow-events", "error-events", "audit-events"):
        assert len(described[name]["partitions"]) == 6
        assert all(partition["replica_nodes"] == [1] for partition in described[name]["partitions"])
    configs = host.check_output(
        "docker exec kafka /opt/kafka/bin/kafka-configs.sh --bootstrap-server 127.0.0.1:9092 "
        "--describe --entity-type topics --entity-name workflow-events"
    )
    assert "retention.ms=604800000" in configs
    assert "min.insync.replicas=1" in configs


def test_a_message_is_produced_and_consumed_through_the_advertised_listener(host):
    bootstrap = advertised_client_listener(host)
    value = f"workflow started {uuid.uuid4()}"
    produce(bootstrap, "workflow-events", value)
    assert value in consume_all(bootstrap, "workflow-events")


def test_messages_survive_a_container_restart(host):
    bootstrap = advertised_client_listener(host)
    value = f"audit record {uuid.uuid4()}"
    produce(bootstrap, "audit-events", value)
    host.run_test("docker restart kafka")
    wait_healthy(host, "kafka")
    assert value in consume_all(bootstrap, "audit-events", timeout=60)


def test_kafka_ui_config_is_wired_to_the_cluster_behind_a_login(host):
    # No registry route to Kafka UI reaches these hosts, so the service is skipped; its
    # rendered configuration is still checked.
    config_file = host.file("/opt/auterity/kafka-ui/config.yml")
    assert host.file("/opt/auterity/kafka-ui").mode == 0o750
    config = yaml.safe_load(config_file.content_string)
    cluster = config["kafka"]["clusters"][0]
    assert cluster["bootstrapServers"] == "kafka:19092"
    assert config["auth"]["type"] == "LOGIN_FORM"
    user = config["spring"]["security"]["user"]
    assert user["name"] == "admin"
    assert user["password"] == (CREDENTIALS / "kafka_ui_admin_password").read_text().strip()
    assert not host.run("docker inspect kafka-ui").succeeded
