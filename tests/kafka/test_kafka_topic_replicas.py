"""kafka_topic changes a topic's replication factor by reassigning replicas, on a two-broker cluster:
a second broker joins the session's cluster for this module's tests and leaves afterwards."""

import collections

import kafka_broker
import pytest


@pytest.fixture(scope="module")
def second_broker(broker, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("kafka2")
    joined = kafka_broker.start(workdir, name="kafka-test-broker-2", node_id=2, controller=broker)
    yield joined
    joined.stop()


@pytest.fixture(scope="module")
def cluster_admin(second_broker):
    """An admin client that knows both brokers from the start: kafka-python does not learn of a
    broker that joins later before its next metadata refresh, yet may pick it as the controller."""
    client = second_broker.admin()
    yield client
    client.close()


@pytest.fixture
def topic(cluster_admin, uid):
    """The test's topic name; the topic is deleted afterwards, before the second broker leaves."""
    name = f"{uid}-rf"
    yield name
    cluster_admin.delete_topics([name], raise_errors=False)


def assignment(admin, name):
    return kafka_broker.replica_assignment(admin, name)


def test_replication_factor_grows_and_shrinks(kafka_topic, cluster_admin, topic):
    admin, name = cluster_admin, topic
    assert not kafka_topic(topics=[{"name": name, "partitions": 4, "replication_factor": 1}]).failed
    leaders = {partition: replicas[0] for partition, replicas in assignment(admin, name).items()}

    grow = kafka_topic(
        allow_replication_factor_change=True, diff=True, topics=[{"name": name, "replication_factor": 2}]
    )
    assert not grow.failed, grow.output
    assert grow.result["updated"] == [name]
    assert grow.result["topics"][name]["changes"] == ["replication_factor 1 -> 2"]
    assert "-replication_factor: 1\n+replication_factor: 2" in grow.output
    # The task returned after the reassignment finished: nothing is still moving.
    assert admin.list_partition_reassignments() == {}
    grown = assignment(admin, name)
    assert all(sorted(replicas) == [1, 2] for replicas in grown.values())
    assert {partition: replicas[0] for partition, replicas in grown.items()} == leaders
    assert kafka_broker.topic_state(admin, name).replication_factor == 2

    again = kafka_topic(allow_replication_factor_change=True, topics=[{"name": name, "replication_factor": 2}])
    assert not again.failed and not again.changed

    shrink = kafka_topic(allow_replication_factor_change=True, topics=[{"name": name, "replication_factor": 1}])
    assert not shrink.failed, shrink.output
    shrunk = assignment(admin, name)
    # Each partition keeps its preferred leader; the two brokers share the partitions evenly.
    assert shrunk == {partition: [leader] for partition, leader in leaders.items()}
    assert sorted(collections.Counter(replicas[0] for replicas in shrunk.values()).values()) == [2, 2]


def test_more_partitions_and_replicas_in_one_task(kafka_topic, cluster_admin, topic):
    admin, name = cluster_admin, topic
    assert not kafka_topic(topics=[{"name": name, "partitions": 2, "replication_factor": 1}]).failed

    run = kafka_topic(
        allow_replication_factor_change=True, topics=[{"name": name, "partitions": 5, "replication_factor": 2}]
    )
    assert not run.failed, run.output
    assert sorted(run.result["topics"][name]["changes"]) == ["partitions 2 -> 5", "replication_factor 1 -> 2"]
    # New partitions come after the reassignment and so get the new replication factor too.
    replicas = assignment(admin, name)
    assert len(replicas) == 5
    assert all(sorted(nodes) == [1, 2] for nodes in replicas.values())


def test_without_the_flag_nothing_moves(kafka_topic, cluster_admin, topic):
    admin, name = cluster_admin, topic
    assert not kafka_topic(topics=[{"name": name, "partitions": 2, "replication_factor": 1}]).failed
    before = assignment(admin, name)

    run = kafka_topic(topics=[{"name": name, "replication_factor": 2}])
    assert run.failed
    assert f"topic {name}: replication factor is 1, the task asks for 2" in run.result["msg"]
    assert assignment(admin, name) == before
