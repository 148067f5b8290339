"""Benchmark: one kafka_topic task against one kafka-topics.sh call per topic.

Both create the same number of topics (different names) on one single-node broker started from
the project's Kafka image: first cold (every topic new), then again with nothing to change. The
module's time is a whole ansible-playbook run; kafka-topics.sh runs with --create
--if-not-exists through docker exec in the broker's container, one call per topic, as a loop of
command tasks would. Prints the four wall-clock times and the two speed-ups.

Then how soon kafka_topic and kafka_user give up: a wrong SASL password on the broker's SASL_SSL
listener (timeout 90 s: a refused login is not retried), and brokers that do not answer (timeout
5 s, not the 30 s default). Each run's time is printed beside its baseline, a run of the same
module that it refuses before connecting anywhere (ansible-playbook's and the module's start
alone), and their ratio.

Exits non-zero when a run fails (or, for the failures, does not fail with its message) or the
broker does not end up with every topic; the times are reported, not enforced.

    .venv/bin/python tests/benchmarks/bench_kafka_topic.py [--topics 50] [--partitions 3]
"""

import argparse
import os
import pathlib
import sys
import tempfile
import time

TESTS = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(TESTS), str(TESTS / "kafka")]
# Each run a whole ansible-playbook process, as a user starts it (tests/project.py).
os.environ["PLAYBOOK_FORK_SERVER"] = "0"

import kafka_broker  # noqa: E402
from bench_table import print_ratios, print_table  # noqa: E402
from kafka_playbook import kafka_topic_task, run_tasks  # noqa: E402

CONTAINER = "kafka-test-bench"
GOAL = 30


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
    if run.rc != 0 or run.changed_count is None or (run.changed_count > 0) is not expect_changed:
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


def time_failure(workdir, module, options, messages):
    """Wall time of one ansible-playbook run of a Kafka module that must fail, saying one of messages."""
    run = run_tasks(workdir, [kafka_topic_task(options, module=module)], register="kafka_result")
    message = (run.result or {}).get("msg", "")
    if not run.failed or not any(expected in message for expected in messages):
        print(run.output[-4000:], file=sys.stderr)
        raise SystemExit(f"{module}: expected a failure saying {messages[0]!r}")
    return run.elapsed


def measure_failures(workdir, broker):
    """(label, seconds, baseline seconds) of each failing run, the baseline being the same module
    refusing a timeout of 0 before it connects anywhere."""
    lost = [f"127.0.0.1:{kafka_broker.free_port()}", f"127.0.0.1:{kafka_broker.free_port()}"]
    topics = [{"name": "bench-failure"}]
    users = [{"name": "bench-failure", "password": "bench-failure-password"}]
    wrong_password = {
        "bootstrap_servers": [broker.secure_bootstrap],
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "PLAIN",
        "sasl_username": kafka_broker.SASL_USER,
        "sasl_password": "not-the-password",
        "ssl_ca_content": broker.pki.ca_pem,
    }
    baselines = {
        "kafka_topic": time_failure(
            workdir / "topic-refused",
            "kafka_topic",
            {"bootstrap_servers": lost, "timeout": 0, "topics": topics},
            ["timeout and reassignment_timeout must be at least 1 second"],
        ),
        "kafka_user": time_failure(
            workdir / "user-refused",
            "kafka_user",
            {"bootstrap_servers": lost, "timeout": 0, "users": users},
            ["timeout must be at least 1 second"],
        ),
    }
    unreachable = [f"cannot reach the Kafka cluster at {', '.join(lost)} within 5 s"]
    runs = [
        (
            "kafka_topic, wrong SASL password (timeout 90 s)",
            "kafka_topic",
            {**wrong_password, "timeout": 90, "topics": topics},
            ["Authentication failed", "SaslAuthenticationFailed"],
        ),
        (
            "kafka_topic, brokers that do not answer (timeout 5 s)",
            "kafka_topic",
            {"bootstrap_servers": lost, "timeout": 5, "topics": topics},
            unreachable,
        ),
        (
            "kafka_user, brokers that do not answer (timeout 5 s)",
            "kafka_user",
            {"bootstrap_servers": lost, "timeout": 5, "users": users},
            unreachable,
        ),
    ]
    return [
        (label, time_failure(workdir / f"failure-{index}", module, options, messages), baselines[module])
        for index, (label, module, options, messages) in enumerate(runs)
    ]


def check_topics(broker, names, partitions):
    with broker.admin() as admin:
        for name in names:
            state = kafka_broker.topic_state(admin, name)
            if state is None or state.partitions != partitions:
                raise SystemExit(f"topic {name}: expected {partitions} partitions, found {state}")


def measure(workdir, count, partitions):
    """The four timings and the failures' timings, on a broker of its own that is gone afterwards."""
    broker = kafka_broker.start(workdir / "broker", name=CONTAINER, secure=True)
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
        return times, measure_failures(workdir / "failures", broker)
    finally:
        broker.stop()


def report(times, failures, count):
    title = f"{count} topics, one broker ({CONTAINER}); wall-clock seconds"
    print_table(title, times, "kafka_topic", "kafka-topics.sh", goal=GOAL)
    print()
    title = "Failures: wall-clock seconds of each run, beside the same module refusing timeout=0 before it connects"
    print_ratios(title, failures, "baseline")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topics", type=int, default=50)
    parser.add_argument("--partitions", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-kafka-") as workdir:
        times, failures = measure(pathlib.Path(workdir), args.topics, args.partitions)
    report(times, failures, args.topics)


if __name__ == "__main__":
    main()
