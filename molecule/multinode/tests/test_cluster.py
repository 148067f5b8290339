"""A three-node Kafka cluster: replication, a broker down, and a change rolled through it.

The checks run once, from the first node's point of view, and reach the others through the
scenario's inventory.
"""

import datetime
import json
import os
import pathlib
import sys
import time
import uuid

import testinfra
from kafka import KafkaAdminClient

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "shared"))
from kafka_checks import advertised_client_listener, consume_all, produce, server_properties, wait_healthy  # noqa: E402

testinfra_hosts = ["node1"]

NODES = ["node1", "node2", "node3"]
STACK_TOPICS = ["workflow-events", "error-events", "audit-events"]
REPORT = pathlib.Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "producer-report.json"


def node(name):
    return testinfra.get_host(f"ansible://{name}", ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])


def bootstrap(names=NODES):
    return [advertised_client_listener(node(name)) for name in names]


def kafka_cli(host, command):
    return host.check_output(f"docker exec kafka /opt/kafka/bin/{command}")


def wait_no_under_replicated_partitions(host, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listener = advertised_client_listener(host)
        result = host.run(
            f"docker exec kafka /opt/kafka/bin/kafka-topics.sh --bootstrap-server {listener} "
            "--describe --under-replicated-partitions"
        )
        if result.rc == 0 and not result.stdout.strip():
            return
        time.sleep(3)
    raise AssertionError("partitions stayed under-replicated")


def started_at(host):
    text = host.check_output("docker inspect -f '{{.State.StartedAt}}' kafka")
    return datetime.datetime.fromisoformat(text[:26].rstrip("Z") + "+00:00").timestamp()


def test_every_node_is_a_healthy_broker_and_controller():
    for number, name in enumerate(NODES, start=1):
        host = node(name)
        assert host.check_output("docker inspect -f '{{.State.Health.Status}}' kafka") == "healthy"
        properties = server_properties(host)
        assert properties["node.id"] == str(number)
        assert properties["process.roles"] == "broker,controller"
        assert len(properties["controller.quorum.voters"].split(",")) == 3
    # Every node votes in the metadata quorum: one leader, two followers.
    replication = kafka_cli(
        node("node1"), f"kafka-metadata-quorum.sh --bootstrap-server {bootstrap()[0]} describe --replication"
    ).splitlines()
    header = replication[0].split()
    rows = [dict(zip(header, line.split(), strict=False)) for line in replication[1:]]
    voters = sorted(int(row["NodeId"]) for row in rows if row["Status"] in ("Leader", "Follower"))
    assert voters == [1, 2, 3], replication


def test_the_stack_topics_are_replicated_three_times():
    admin = KafkaAdminClient(bootstrap_servers=bootstrap())
    try:
        described = {topic["name"]: topic for topic in admin.describe_topics(STACK_TOPICS)}
    finally:
        admin.close()
    for name in STACK_TOPICS:
        partitions = described[name]["partitions"]
        assert len(partitions) == 6
        for partition in partitions:
            assert sorted(partition["replica_nodes"]) == [1, 2, 3], (name, partition)
            assert sorted(partition["isr_nodes"]) == [1, 2, 3], (name, partition)
    configs = kafka_cli(
        node("node1"),
        f"kafka-configs.sh --bootstrap-server {bootstrap()[0]} --describe --entity-type topics "
        "--entity-name workflow-events",
    )
    assert "min.insync.replicas=2" in configs


def test_the_changed_setting_reached_every_running_broker():
    for number, name in enumerate(NODES, start=1):
        host = node(name)
        assert server_properties(host)["log.retention.hours"] == "72"
        live = kafka_cli(
            host,
            f"kafka-configs.sh --bootstrap-server {advertised_client_listener(host)} "
            f"--describe --all --entity-type brokers --entity-name {number}",
        )
        assert "log.retention.hours=72" in live, live


def test_the_nodes_restarted_one_at_a_time_during_the_change():
    report = json.loads(REPORT.read_text())
    restarts = sorted(started_at(node(name)) for name in NODES)
    # Every node was re-created after the producer started, i.e. by the change ...
    assert restarts[0] > report["started_at"]
    # ... and each only after the previous one had rejoined (a parallel restart puts them
    # within a second or two of each other).
    assert all(later - earlier >= 10 for earlier, later in zip(restarts, restarts[1:], strict=False)), restarts


def test_every_write_during_the_change_was_acknowledged_and_kept():
    report = json.loads(REPORT.read_text())
    assert report["failed"] == []
    assert report["sent"] >= 100, report["sent"]
    assert report["acked"] == list(range(report["sent"]))
    prefix = report["run"] + ":"
    stored = {
        value[len(prefix) :]
        for value in consume_all(bootstrap(), report["topic"], timeout=60)
        if value.startswith(prefix)
    }
    assert stored == {str(seq) for seq in report["acked"]}


def test_producing_with_acks_all_and_consuming_work_with_one_broker_down():
    stopped = node("node3")
    survivors = bootstrap(["node1", "node2"])
    value = f"workflow while node3 is down {uuid.uuid4()}"
    stopped.run_test("docker stop kafka")
    try:
        produce(survivors, "workflow-events", value)
        assert value in consume_all(survivors, "workflow-events", timeout=60)
    finally:
        stopped.run_test("docker start kafka")
        wait_healthy(stopped)
        wait_no_under_replicated_partitions(node("node1"))
