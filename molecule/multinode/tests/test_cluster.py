"""A three-node Kafka cluster: replication, a broker down, and a change rolled through it.

The checks run once, from the first node's point of view, and reach the others through the
scenario's inventory.
"""

import datetime
import json
import os
import pathlib
import subprocess
import sys
import time
import uuid

import testinfra
from kafka import KafkaAdminClient

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "shared"))
from kafka_checks import (  # noqa: E402
    advertised_client_listener,
    advertised_listener,
    consume_all,
    produce,
    scram_settings,
    server_properties,
    wait_healthy,
)

testinfra_hosts = ["node1"]

ROOT = pathlib.Path(__file__).resolve().parents[3]
NODES = ["node1", "node2", "node3"]
# side_effect.yml's changes, which every later run must keep (or they roll back).
ROLLED = {"kafka_log_retention_hours": 72, "kafka_sasl_enabled": True}
CREDENTIALS = pathlib.Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "credentials"
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


def created_at(host):
    text = host.check_output("docker inspect -f '{{.Created}}' kafka")
    return datetime.datetime.fromisoformat(text[:26].rstrip("Z") + "+00:00").timestamp()


def kafka_playbook(extra_vars):
    """playbooks/kafka.yml against this scenario's hosts, as converge runs it."""
    return subprocess.run(
        [
            str(pathlib.Path(sys.executable).with_name("ansible-playbook")),
            "-i",
            str(pathlib.Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent),
            str(ROOT / "playbooks/kafka.yml"),
            "-e",
            json.dumps(extra_vars),
        ],
        cwd=ROOT,
        env=dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0"),
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
    )


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


def test_sasl_turned_on_by_the_roll_takes_a_scram_user_on_every_broker():
    settings = scram_settings(CREDENTIALS, "auterity")
    for name in NODES:
        sasl = advertised_listener(node(name), "SASL")
        value = f"over SASL through {name} {uuid.uuid4()}"
        # Only this broker as bootstrap: its own listener must take the login.
        produce([sasl], "audit-events", value, **settings)
        assert value in consume_all([sasl], "audit-events", timeout=60, until=value, **settings)


def test_the_nodes_restarted_one_at_a_time_during_the_change():
    report = json.loads(REPORT.read_text())
    # Every node was re-created after the producer started, i.e. by the change ...
    assert all(created_at(node(name)) > report["started_at"] for name in NODES)
    # ... and never two at once: while one broker was away, the others held every partition's
    # other replicas in sync (two restarting together would take two replicas out).
    assert report["samples"] >= 10, report["samples"]
    assert report["max_out_of_sync"] == 1, report["max_out_of_sync"]


def test_every_write_during_the_change_was_acknowledged_and_kept():
    report = json.loads(REPORT.read_text())
    assert report["failed"] == []
    assert report["sent"] >= 100, report["sent"]
    assert report["acked"] == list(range(report["sent"]))
    prefix = report["run"] + ":"
    acked = {str(seq) for seq in report["acked"]}

    def stored(values):
        return {value[len(prefix) :] for value in values if value.startswith(prefix)}

    # Read until every acknowledged write is found (or none comes for a minute).
    values = consume_all(bootstrap(), report["topic"], timeout=60, until=lambda values: stored(values) >= acked)
    assert stored(values) == acked


def test_producing_with_acks_all_and_consuming_work_with_one_broker_down():
    stopped = node("node3")
    survivors = bootstrap(["node1", "node2"])
    value = f"workflow while node3 is down {uuid.uuid4()}"
    stopped.run_test("docker stop kafka")
    try:
        produce(survivors, "workflow-events", value)
        assert value in consume_all(survivors, "workflow-events", timeout=60, until=value)
    finally:
        stopped.run_test("docker start kafka")
        wait_healthy(stopped)
        wait_no_under_replicated_partitions(node("node1"))


def test_a_change_that_breaks_a_broker_stops_the_roll_there_and_a_fix_heals_it():
    before = {name: created_at(node(name)) for name in NODES}
    # A setting Kafka refuses at start: the first node re-created with it never comes back.
    broken = kafka_playbook(ROLLED | {"kafka_extra_config": {"num.network.threads": "0"}, "stack_ready_timeout": 20})
    assert broken.returncode != 0, broken.stdout[-3000:]
    assert created_at(node("node1")) > before["node1"]
    for name in ("node2", "node3"):
        assert created_at(node(name)) == before[name], f"{name} was restarted after node1 failed"
        # Nor were its files changed under the running broker.
        assert "num.network.threads" not in server_properties(node(name))
    # Two brokers of three still take writes with acks=all (min.insync.replicas=2).
    value = f"written while node1 is broken {uuid.uuid4()}"
    produce(bootstrap(["node2", "node3"]), "workflow-events", value)

    # The fix reaches the broken node at once (it is down, so waiting would only block it)
    # and leaves the healthy ones alone.
    fixed = kafka_playbook(ROLLED)
    assert fixed.returncode == 0, fixed.stdout[-3000:]
    for name in ("node2", "node3"):
        assert created_at(node(name)) == before[name]
    wait_healthy(node("node1"))
    wait_no_under_replicated_partitions(node("node1"))
    assert value in consume_all(bootstrap(), "workflow-events", timeout=60, until=value)
