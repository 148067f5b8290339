"""kafka_topic waits for a cluster that is still starting, within its timeout."""

import kafka_broker
import pytest


@pytest.fixture
def starting_broker(broker, tmp_path):
    # A cluster of its own, started without waiting: the task below runs while the JVM boots.
    # (Depends on the session broker only so that both never start at once on a small machine.)
    late = kafka_broker.start(tmp_path, name="kafka-test-late", wait=False)
    yield late
    late.stop()


def test_task_waits_for_a_starting_cluster(starting_broker, kafka_topic, uid):
    run = kafka_topic(
        bootstrap_servers=[starting_broker.bootstrap],
        timeout=90,
        topics=[{"name": f"{uid}-early", "partitions": 2}],
    )
    assert not run.failed, run.output
    assert run.result["created"] == [f"{uid}-early"]
    with starting_broker.admin() as admin:
        assert kafka_broker.topic_state(admin, f"{uid}-early") == (2, 1, {})
