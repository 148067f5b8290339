"""kafka_topic makes topics match: creation, more partitions, config overrides, deletion,
check mode, --diff, and nothing to do on a second run."""


def test_creates_missing_topics_in_one_task(kafka_topic, topic_state, uid):
    run = kafka_topic(
        topics=[
            {"name": f"{uid}-events", "partitions": 3, "replication_factor": 1, "config": {"retention.ms": 3600000}},
            {"name": f"{uid}-state", "config": {"cleanup.policy": "compact"}},
        ]
    )
    assert not run.failed, run.output
    assert run.changed
    assert run.result["created"] == [f"{uid}-events", f"{uid}-state"]
    assert run.result["topics"][f"{uid}-events"]["action"] == "created"
    assert topic_state(f"{uid}-events") == (3, 1, {"retention.ms": "3600000"})
    # Partitions and replication factor left out: the broker's defaults (num.partitions=1).
    assert topic_state(f"{uid}-state") == (1, 1, {"cleanup.policy": "compact"})
    assert run.result["topics"][f"{uid}-state"]["partitions"] == 1


def test_increases_partitions(kafka_topic, topic_state, uid):
    name = f"{uid}-grow"
    assert not kafka_topic(topics=[{"name": name, "partitions": 2}]).failed
    run = kafka_topic(topics=[{"name": name, "partitions": 5}])
    assert not run.failed, run.output
    assert run.result["updated"] == [name]
    assert run.result["topics"][name]["changes"] == ["partitions 2 -> 5"]
    assert topic_state(name).partitions == 5


def test_sets_listed_config_and_leaves_unlisted_keys(kafka_topic, topic_state, uid):
    name = f"{uid}-cfg"
    config = {"retention.ms": "1000000", "cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.2"}
    assert not kafka_topic(topics=[{"name": name, "config": config}]).failed

    run = kafka_topic(topics=[{"name": name, "config": {"retention.ms": 2000000, "segment.ms": 7200000}}])
    assert not run.failed, run.output
    assert run.result["updated"] == [name]
    # Changed and added keys are set; the keys no longer listed keep their values.
    assert topic_state(name).config == {
        "retention.ms": "2000000",
        "segment.ms": "7200000",
        "cleanup.policy": "compact",
        "min.cleanable.dirty.ratio": "0.2",
    }


def test_purge_resets_only_unlisted_topic_overrides(kafka_topic, topic_state, uid):
    name, other = f"{uid}-purge", f"{uid}-other"
    config = {"retention.ms": "1000000", "cleanup.policy": "compact", "max.message.bytes": "200000"}
    assert not kafka_topic(topics=[{"name": name, "config": config}, {"name": other, "config": config}]).failed

    run = kafka_topic(purge_unlisted_config=True, topics=[{"name": name, "config": {"retention.ms": "1000000"}}])
    assert not run.failed, run.output
    assert run.result["updated"] == [name]
    assert sorted(run.result["topics"][name]["changes"]) == [
        "config cleanup.policy reset to the broker default",
        "config max.message.bytes reset to the broker default",
    ]
    # The listed override stays; the others are back to the broker default (no override).
    assert topic_state(name).config == {"retention.ms": "1000000"}
    # A topic not in the task keeps all its overrides.
    assert topic_state(other).config == config

    again = kafka_topic(purge_unlisted_config=True, topics=[{"name": name, "config": {"retention.ms": "1000000"}}])
    assert not again.failed and not again.changed


def test_absent_deletes_only_listed_topics(kafka_topic, topic_state, uid):
    names = [f"{uid}-a", f"{uid}-b", f"{uid}-c"]
    assert not kafka_topic(topics=[{"name": name} for name in names]).failed

    run = kafka_topic(topics=[{"name": names[1], "state": "absent"}, {"name": f"{uid}-never", "state": "absent"}])
    assert not run.failed, run.output
    assert run.result["deleted"] == [names[1]]
    assert run.result["unchanged"] == [f"{uid}-never"]
    assert topic_state(names[1]) is None
    assert topic_state(names[0]) is not None
    assert topic_state(names[2]) is not None


def test_second_run_changes_nothing(kafka_topic, uid):
    topics = [
        {"name": f"{uid}-x", "partitions": 4, "replication_factor": 1, "config": {"retention.ms": 86400000}},
        {"name": f"{uid}-y", "config": {"cleanup.policy": "compact", "unclean.leader.election.enable": False}},
        {"name": f"{uid}-z", "state": "absent"},
    ]
    first = kafka_topic(topics=topics)
    assert not first.failed and first.changed, first.output

    second = kafka_topic(topics=topics, diff=True)
    assert not second.failed, second.output
    assert not second.changed
    assert second.result["unchanged"] == [f"{uid}-x", f"{uid}-y", f"{uid}-z"]
    assert second.result["created"] == second.result["updated"] == second.result["deleted"] == []
    # The module task reports ok, not changed, and so does the whole run.
    assert second.changed_count == 0
    assert "--- before" not in second.output


def test_check_mode_reports_and_writes_nothing(kafka_topic, topic_state, uid):
    name, existing = f"{uid}-new", f"{uid}-old"
    assert not kafka_topic(topics=[{"name": existing, "partitions": 1, "config": {"retention.ms": "1000000"}}]).failed
    topics = [
        {"name": name, "partitions": 2},
        {"name": existing, "partitions": 3, "config": {"retention.ms": "2000000"}},
    ]

    run = kafka_topic(topics=topics, check=True)
    assert not run.failed, run.output
    assert run.changed
    assert run.result["created"] == [name]
    assert run.result["updated"] == [existing]
    assert topic_state(name) is None
    assert topic_state(existing) == (1, 1, {"retention.ms": "1000000"})

    # What check mode predicted is what a real run does.
    real = kafka_topic(topics=topics)
    assert not real.failed
    assert real.result["topics"] == run.result["topics"]


def test_check_mode_validates_with_the_broker(kafka_topic, topic_state, uid):
    run = kafka_topic(topics=[{"name": f"{uid}-bad", "config": {"retention.ms": "soon"}}], check=True)
    assert run.failed
    assert f"topic {uid}-bad" in run.result["msg"]
    assert "retention.ms" in run.result["msg"]


def test_diff_shows_partitions_and_config_before_and_after(kafka_topic, uid):
    name, created = f"{uid}-diff", f"{uid}-diffnew"
    assert not kafka_topic(topics=[{"name": name, "partitions": 1, "config": {"retention.ms": "1000000"}}]).failed

    run = kafka_topic(
        diff=True,
        topics=[
            {"name": name, "partitions": 3, "config": {"retention.ms": "5000000"}},
            {"name": created, "partitions": 2, "config": {"cleanup.policy": "compact"}},
        ],
    )
    assert not run.failed, run.output
    assert f"--- before: topic {name}" in run.output
    assert "-partitions: 1\n+partitions: 3" in run.output
    assert "-  retention.ms: 1000000\n+  retention.ms: 5000000" in run.output
    assert " replication_factor: 1" in run.output  # unchanged, shown as context
    assert f"+++ after: topic {created}" in run.output
    assert "-state: absent" in run.output
    assert "+  cleanup.policy: compact" in run.output
