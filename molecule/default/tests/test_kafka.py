"""Kafka on the all-in-one host, checked through its advertised listener with a real client."""

import json
import os
import pathlib
import sys
import uuid

import pytest
import requests
import yaml
from kafka import KafkaAdminClient
from kafka.errors import KafkaError

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "shared"))
from kafka_checks import (  # noqa: E402
    advertised_client_listener,
    advertised_listener,
    consume_all,
    produce,
    scram_settings,
    wait_healthy,
)

CREDENTIALS = pathlib.Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "credentials"


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
    config_file = host.file("/opt/auterity/kafka_ui/config.yml")
    assert host.file("/opt/auterity/kafka_ui").mode == 0o750
    config = yaml.safe_load(config_file.content_string)
    cluster = config["kafka"]["clusters"][0]
    assert cluster["bootstrapServers"] == "kafka:19092"
    # SASL is on in this scenario: the UI logs in as the first SASL user, trusting Kafka's CA.
    properties = cluster["properties"]
    assert properties["security.protocol"] == "SASL_SSL"
    assert properties["sasl.mechanism"] == "SCRAM-SHA-512"
    admin_password = (CREDENTIALS / "kafka_sasl_admin_password").read_text().strip()
    assert f'username="admin" password="{admin_password}";' in properties["sasl.jaas.config"]
    assert properties["ssl.truststore.location"] == "/etc/kafkaui/kafka-ca.crt"
    assert (
        host.file("/opt/auterity/kafka_ui/kafka-ca.crt").content_string
        == (CREDENTIALS / "kafka_tls/ca.crt").read_text()
    )
    assert config["auth"]["type"] == "LOGIN_FORM"
    user = config["spring"]["security"]["user"]
    assert user["name"] == "admin"
    assert user["password"] == (CREDENTIALS / "kafka_ui_admin_password").read_text().strip()
    assert not host.run("docker inspect kafka_ui").succeeded


def test_the_sasl_listener_takes_a_generated_scram_user_over_tls(host):
    settings = scram_settings(CREDENTIALS, "auterity")
    value = f"authenticated {uuid.uuid4()}"
    produce(advertised_listener(host, "SASL"), "error-events", value, **settings)
    assert value in consume_all(advertised_listener(host, "SASL"), "error-events", **settings)
    wrong = dict(settings, sasl_plain_password="not-the-password")
    with pytest.raises(KafkaError):
        produce(advertised_listener(host, "SASL"), "error-events", "refused", **wrong)


def vault_secret(host, path):
    """A KV secret's data, read inside the Vault container with the root token."""
    token = json.loads((CREDENTIALS / "vault_init.json").read_text())["root_token"]
    return json.loads(
        host.check_output(
            f"docker exec -e VAULT_TOKEN={token} -e VAULT_ADDR=http://127.0.0.1:8200 vault "
            f"bao kv get -format=json secret/{path}"
        )
    )["data"]["data"]


def test_vault_keeps_the_sasl_users_credentials(host):
    stored = vault_secret(host, "auterity/kafka/auterity")
    assert stored["username"] == "auterity"
    assert stored["password"] == (CREDENTIALS / "kafka_sasl_auterity_password").read_text().strip()
    assert stored["mechanism"] == "SCRAM-SHA-512"
    # The administrator (Kafka UI's login) is kept apart from auterity/, which the backend reads.
    admin = vault_secret(host, "infrastructure/kafka/admin")
    assert admin["password"] == (CREDENTIALS / "kafka_sasl_admin_password").read_text().strip()


def test_prometheus_can_scrape_the_broker_metrics(host):
    address = advertised_client_listener(host).rsplit(":", 1)[0]
    response = requests.get(f"http://{address}:7071/metrics", timeout=30)
    response.raise_for_status()
    metrics = response.text
    values = dict(line.rsplit(" ", 1) for line in metrics.splitlines() if line and not line.startswith("#"))
    assert float(values["kafka_server_replicamanager_underreplicatedpartitions"]) == 0
    assert float(values["kafka_controller_kafkacontroller_activecontrollercount"]) == 1
    assert float(values["kafka_server_brokertopicmetrics_messagesin_total"]) >= 1
