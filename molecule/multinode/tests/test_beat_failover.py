"""Beat placed on two hosts (node2 and node3) for failover: heartbeats on the audit topic come
from one scheduler only, and stopping that one lets the other take over once the lock of the
stopped one has expired; started again, the first waits as a standby."""

import datetime
import json
import os
import pathlib
import sys
import time

import testinfra
import yaml
from kafka import KafkaConsumer

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "shared"))
from kafka_checks import advertised_client_listener  # noqa: E402

testinfra_hosts = ["node1"]

SCHEDULERS = ["node2", "node3"]
SETTINGS = yaml.safe_load((pathlib.Path(__file__).resolve().parents[1] / "molecule.yml").read_text())
GROUP_VARS = SETTINGS["provisioner"]["inventory"]["group_vars"]["all"]
HEARTBEAT = GROUP_VARS["celery_beat_heartbeat_seconds"]
LOCK_TIMEOUT = GROUP_VARS["celery_beat_lock_timeout"]


def node(name):
    return testinfra.get_host(f"ansible://{name}", ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])


def now():
    return datetime.datetime.now(datetime.UTC)


def heartbeats(since, until):
    """(scheduler, ts) of every heartbeat sent at or after since, read until the clock passes until."""
    consumer = KafkaConsumer(
        "audit-events",
        bootstrap_servers=[advertised_client_listener(node(name)) for name in ("node1", "node2", "node3")],
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=1000,
    )
    found = []
    try:
        while now() < until:
            for message in consumer:
                event = json.loads(message.value)
                sent = datetime.datetime.fromisoformat(event["ts"])
                if event["event"] == "beat.heartbeat" and sent >= since:
                    found.append((event["scheduler"], sent))
    finally:
        consumer.close()
    return sorted(set(found), key=lambda heartbeat: heartbeat[1])


def scheduler_hosts():
    """The host name each beat container sends from, by node."""
    return {node(name).check_output("docker exec celery_beat hostname").strip(): name for name in SCHEDULERS}


def one_scheduler(window_start, seconds):
    """Heartbeats of a window: one scheduler's, about one per interval (two schedulers would
    send twice as many)."""
    found = heartbeats(window_start, window_start + datetime.timedelta(seconds=seconds))
    senders = {scheduler for scheduler, _ in found}
    assert len(senders) == 1, found
    assert 2 <= len(found) <= seconds / HEARTBEAT + 1, found
    return senders.pop()


def test_heartbeats_come_from_one_scheduler_and_the_standby_takes_over():
    hosts = scheduler_hosts()
    active = hosts[one_scheduler(now(), 6 * HEARTBEAT)]
    standby = next(name for name in SCHEDULERS if name != active)

    node(active).check_output("docker stop celery_beat")
    stopped = now()
    try:
        # The standby takes the lock once the stopped scheduler's lock has expired.
        takeover = stopped + datetime.timedelta(seconds=LOCK_TIMEOUT + 3 * HEARTBEAT)
        found = heartbeats(stopped + datetime.timedelta(seconds=2), takeover)
        assert found, f"no heartbeat within {LOCK_TIMEOUT + 3 * HEARTBEAT} s of stopping {active}'s scheduler"
        assert {hosts[scheduler] for scheduler, _ in found} == {standby}, found
    finally:
        node(active).check_output("docker start celery_beat")
    time.sleep(HEARTBEAT)
    # Started again, the first scheduler waits: the heartbeats still come from one.
    assert hosts[one_scheduler(now(), 6 * HEARTBEAT)] == standby
