"""kafka_topic's planning on its own, for what one or two test brokers cannot show: how replicas
spread over a larger cluster, and the checks made before the cluster is asked anything."""

import collections

import ansible.module_utils
import pytest
from module_runner import ROOT

# The module imports its helpers as ansible.module_utils.*, as it does once Ansible ships it.
ansible.module_utils.__path__.append(str(ROOT / "module_utils"))

from ansible.module_utils.kafka_errors import KafkaModuleError  # noqa: E402
from ansible.module_utils.kafka_topic_plan import (  # noqa: E402
    CurrentTopic,
    DesiredTopic,
    parse_topics,
    plan_topic,
    spread_replicas,
)

BROKERS = [1, 2, 3, 4]


def loads(assignment):
    return collections.Counter(broker for replicas in assignment.values() for broker in replicas)


def test_added_replicas_spread_evenly_and_keep_the_preferred_leader():
    current = {partition: [BROKERS[partition % 4]] for partition in range(8)}
    changed = spread_replicas(current, 3, BROKERS)
    assert set(changed) == set(current)
    for partition, replicas in changed.items():
        assert replicas[0] == current[partition][0]
        assert len(set(replicas)) == 3
    assert set(loads(changed).values()) == {6}


def test_removed_replicas_come_off_the_busiest_brokers():
    # Broker 1 holds a replica of every partition.
    current = {0: [1, 2, 3], 1: [2, 1, 4], 2: [3, 4, 1], 3: [4, 1, 2]}
    changed = spread_replicas(current, 2, BROKERS)
    result = {**current, **changed}
    assert all(result[p][0] == current[p][0] for p in current)
    assert set(loads(result).values()) == {2}


def test_unchanged_partitions_are_left_out():
    current = {0: [1, 2], 1: [2, 3, 4]}
    assert spread_replicas(current, 2, BROKERS) == {1: [2, 3]}


def test_plan_collects_every_problem_of_a_topic():
    current = CurrentTopic("t", {0: [1], 1: [2], 2: [3]}, {})
    with pytest.raises(KafkaModuleError) as raised:
        plan_topic(DesiredTopic("t", partitions=2, replication_factor=2), current, BROKERS)
    assert len(raised.value.problems) == 2
    assert all(problem.startswith("topic t: ") for problem in raised.value.problems)


@pytest.mark.parametrize(
    ("topics", "problem"),
    [
        ([{"name": "__transaction_state"}], "internal topics"),
        ([{"name": "a b"}], "not a legal topic name"),
        ([{"name": "x" * 250}], "not a legal topic name"),
        ([{"name": "dup"}, {"name": "dup"}], "listed more than once"),
        ([{"name": "zero", "partitions": 0}], "partitions must be at least 1"),
        ([{"name": "none", "config": {"retention.ms": None}}], "config retention.ms has no value"),
    ],
)
def test_requests_refused_before_asking_the_cluster(topics, problem):
    with pytest.raises(KafkaModuleError, match=problem):
        parse_topics(topics)


def test_config_values_compare_as_kafka_strings():
    config = {"retention.ms": 1000, "preallocate": True, "cleanup.policy": ["compact", "delete"]}
    (topic,) = parse_topics([{"name": "t", "config": config}])
    assert topic.config == {"retention.ms": "1000", "preallocate": "true", "cleanup.policy": "compact,delete"}
    current = CurrentTopic("t", {0: [1]}, dict(topic.config))
    assert not plan_topic(topic, current, BROKERS).changed
