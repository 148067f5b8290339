"""Benchmark: one kafka_topic task against one kafka-topics.sh call per topic.

Both create the same number of topics (different names) on one single-node broker started from
the project's Kafka image: first cold (every topic new), then again with nothing to change. The
module's time is a whole ansible-playbook run; kafka-topics.sh runs with --create
--if-not-exists through docker exec in the broker's container, one call per topic, as a loop of
command tasks would. Prints the four wall-clock times and the two speed-ups. Exits non-zero when
a run fails or the broker does not end up with every topic; the speed-up is reported, not
enforced.

    .venv/bin/python tests/benchmarks/bench_kafka_topic.py [--topics 50] [--partitions 3]
"""

import argparse
import pathlib
import re
import sys
import tempfile
import time

TESTS = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(TESTS), str(TESTS / "kafka")]

import kafka_broker  # noqa: E402
from bench_table import print_table  # noqa: E402
from kafka_playbook import kafka_topic_task, run_tasks  # noqa: E402

CONTAINER = "kafka-test-bench"
GOAL = 30
RECAP = re.compile(r"^localhost\s+:\s+ok=\d+\s+changed=(\d+)\s+unreachable=0\s+failed=0\b", re.M)


def time_module(workdir, broker, names, partitions, expect_changed):
    """Wall time of one ansible-playbook run of one kafka_topic task over all topics."""
    task = kafka_topic_task(
        {
            "bootstrap_servers": [broker.bootstrap],
            "topics": [{"name": name, "partitions": partitions, "replication_factor": 1} for name in names],
        }
    )
    task.pop("ignore_errors")
    run = run_tasks(workdir, [task])
    recap = RECAP.search(run.output)
    if run.rc != 0 or recap is None or (recap.group(1) != "0") is not expect_changed:
        print(run.output[-4000:], file=sys.stderr)
        raise SystemExit(f"kafka_topic: expected changed={expect_changed}; the run failed or disagreed")
    return run.elapsed


def time_cli(broker, names, partitions):
    """Wall time of one kafka-topics.sh --create --if-not-exists call per topic, in the broker's container."""
    started = time.monotonic()
    for name in names:
        completed = broker.exec(
            "kafka-topics.sh",
            "--bootstrap-server",
            broker.bootstrap,
            "--create",
            "--if-not-exists",
            "--topic",
            name,
            "--partitions",
            str(partitions),
            "--replication-factor",
            "1",
        )
        if completed.returncode != 0:
            raise SystemExit(f"kafka-topics.sh --create {name} failed:\n{completed.stdout}{completed.stderr}")
    return time.monotonic() - started


def check_topics(broker, names, partitions):
    with broker.admin() as admin:
        for name in names:
            state = kafka_broker.topic_state(admin, name)
            if state is None or state.partitions != partitions:
                raise SystemExit(f"topic {name}: expected {partitions} partitions, found {state}")


def measure(workdir, count, partitions):
    broker = kafka_broker.start(workdir / "broker", name=CONTAINER)
    try:
        module_names = [f"bench-module-{index:03d}" for index in range(count)]
        cli_names = [f"bench-cli-{index:03d}" for index in range(count)]
        times = {
            ("kafka_topic", "cold"): time_module(workdir / "cold", broker, module_names, partitions, True),
            ("kafka_topic", "no-op"): time_module(workdir / "noop", broker, module_names, partitions, False),
            ("kafka-topics.sh", "cold"): time_cli(broker, cli_names, partitions),
            ("kafka-topics.sh", "no-op"): time_cli(broker, cli_names, partitions),
        }
        check_topics(broker, module_names + cli_names, partitions)
        return times
    finally:
        broker.stop()


def report(times, count):
    title = f"{count} topics, one broker ({CONTAINER}); wall-clock seconds"
    print_table(title, times, "kafka_topic", "kafka-topics.sh", goal=GOAL)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topics", type=int, default=50)
    parser.add_argument("--partitions", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-kafka-") as workdir:
        times = measure(pathlib.Path(workdir), args.topics, args.partitions)
    report(times, args.topics)


if __name__ == "__main__":
    main()
