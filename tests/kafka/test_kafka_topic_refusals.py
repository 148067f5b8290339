"""kafka_topic refuses what it must not do, names the topic, and then has changed nothing."""

import kafka_broker
import pytest


def test_partition_decrease_is_refused(kafka_topic, topic_state, uid):
    name, bystander = f"{uid}-shrink", f"{uid}-bystander"
    assert not kafka_topic(topics=[{"name": name, "partitions": 3}]).failed

    run = kafka_topic(topics=[{"name": bystander}, {"name": name, "partitions": 2, "config": {"retention.ms": 1000}}])
    assert run.failed
    assert f"topic {name}: has 3 partitions, the task asks for 2" in run.result["msg"]
    assert not run.result["changed"]
    assert topic_state(name) == (3, 1, {})
    assert topic_state(bystander) is None


def test_replication_factor_change_needs_the_flag(kafka_topic, topic_state, uid):
    name = f"{uid}-rf"
    assert not kafka_topic(topics=[{"name": name, "replication_factor": 1}]).failed

    run = kafka_topic(topics=[{"name": name, "replication_factor": 2}])
    assert run.failed
    assert f"topic {name}: replication factor is 1, the task asks for 2" in run.result["msg"]
    assert "allow_replication_factor_change" in run.result["msg"]
    assert topic_state(name).replication_factor == 1


def test_replication_factor_above_the_broker_count_fails(kafka_topic, topic_state, uid):
    name = f"{uid}-rf"
    assert not kafka_topic(topics=[{"name": name, "replication_factor": 1}]).failed

    run = kafka_topic(allow_replication_factor_change=True, topics=[{"name": name, "replication_factor": 2}])
    assert run.failed
    assert f"topic {name}: replication factor 2 needs 2 brokers, the cluster has 1" in run.result["msg"]
    assert topic_state(name).replication_factor == 1


def test_new_topic_with_too_many_replicas_fails(kafka_topic, topic_state, uid):
    run = kafka_topic(topics=[{"name": f"{uid}-ok"}, {"name": f"{uid}-rf3", "replication_factor": 3}])
    assert run.failed
    assert f"topic {uid}-rf3:" in run.result["msg"]
    assert topic_state(f"{uid}-ok") is None


@pytest.mark.parametrize("state", ["present", "absent"])
def test_internal_topics_are_refused(kafka_topic, topic_state, admin, uid, state):
    run = kafka_topic(
        topics=[{"name": f"{uid}-plain"}, {"name": "__consumer_offsets", "state": state, "partitions": 60}]
    )
    assert run.failed
    assert "topic __consumer_offsets: names starting with '__' are Kafka's internal topics" in run.result["msg"]
    assert "__consumer_offsets" in admin.list_topics()
    assert topic_state("__consumer_offsets").partitions == 3  # offsets.topic.num.partitions of the test broker
    assert topic_state(f"{uid}-plain") is None


@pytest.mark.parametrize(
    ("config", "complaint"),
    [
        ({"no.such.setting": "1"}, "no.such.setting"),
        ({"retention.ms": "a week"}, "retention.ms"),
        ({"cleanup.policy": "shred"}, "cleanup.policy"),
    ],
    ids=["unknown-key", "not-a-number", "bad-choice"],
)
def test_one_invalid_config_in_a_batch_creates_nothing(kafka_topic, topic_state, uid, config, complaint):
    existing = f"{uid}-existing"
    assert not kafka_topic(topics=[{"name": existing, "partitions": 1}]).failed
    topics = [
        {"name": f"{uid}-first", "partitions": 2},
        {"name": f"{uid}-bad", "config": config},
        {"name": f"{uid}-last", "config": {"retention.ms": "1000"}},
        {"name": existing, "partitions": 4, "config": {"retention.ms": "1000"}},
    ]
    run = kafka_topic(topics=topics)
    assert run.failed
    assert f"topic {uid}-bad" in run.result["msg"]
    assert complaint in run.result["msg"]
    assert not run.result["changed"]
    for name in (f"{uid}-first", f"{uid}-bad", f"{uid}-last"):
        assert topic_state(name) is None
    assert topic_state(existing) == (1, 1, {})


def test_invalid_config_of_an_existing_topic_changes_nothing(kafka_topic, topic_state, uid):
    good, bad = f"{uid}-good", f"{uid}-bad"
    assert not kafka_topic(topics=[{"name": good}, {"name": bad}]).failed

    run = kafka_topic(
        topics=[
            {"name": good, "partitions": 2, "config": {"retention.ms": "1000"}},
            {"name": bad, "config": {"retention.ms": "forever"}},
        ]
    )
    assert run.failed
    assert f"topic {bad}: Invalid value forever for configuration retention.ms" in run.result["msg"]
    assert topic_state(good) == (1, 1, {})


def test_unreachable_brokers_fail_naming_them_and_the_timeout(kafka_topic, uid):
    servers = [f"127.0.0.1:{kafka_broker.free_port()}", f"127.0.0.1:{kafka_broker.free_port()}"]
    topics = [{"name": f"{uid}-lost"}]
    # A timeout below 1 s is refused before the module connects anywhere.
    refused = kafka_topic(bootstrap_servers=servers, timeout=0, topics=topics)
    assert refused.failed and "timeout and reassignment_timeout must be at least 1 second" in refused.result["msg"]

    # How long the run waits for the cluster (the 5 s asked for, not the 30 s default) is
    # measured by tests/benchmarks/bench_kafka_topic.py, not asserted here.
    run = kafka_topic(bootstrap_servers=servers, timeout=5, topics=topics)
    assert run.failed
    assert f"cannot reach the Kafka cluster at {', '.join(servers)} within 5 s" in run.result["msg"]
