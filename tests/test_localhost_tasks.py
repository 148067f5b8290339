"""The task queue on the all-in-one stack, through a Celery client as an application uses it:
workflows run on the deployed worker, their events come back from Kafka, beat's heartbeat
reaches the audit topic, a worker killed in the middle of a step finishes the workflow after
its restart, Flower counts the tasks, and a workflow is one trace in Jaeger.

test_localhost_stack.py deploys the stack first (same pytest run). The worker-kill and failover
tests need shorter settings of the worker and beat: the `redeployed` run of conftest.py deploys
them, and they keep them until the session ends."""

import datetime
import json
import time
import urllib.parse
import uuid

import pytest
from celery import Celery
from kafka import KafkaConsumer
from localhost import docker, get_bytes, get_json, secret, wait_for
from project import role_default

pytestmark = pytest.mark.usefixtures("localhost_stack_left_as_found")

KAFKA = "127.0.0.1:9092"
FLOWER = "http://127.0.0.1:5555"
JAEGER = "http://127.0.0.1:16686"
HEARTBEAT_SECONDS = role_default("celery_beat", "celery_beat_heartbeat_seconds")


@pytest.fixture(scope="module")
def queue():
    """A client of the deployed queue: Redis's published port, with its generated password."""
    redis = f"redis://:{urllib.parse.quote(secret('redis_password'), safe='')}@127.0.0.1:6379"
    app = Celery("tests", broker=f"{redis}/0", backend=f"{redis}/1")
    app.conf.broker_connection_retry_on_startup = True
    yield app
    app.close()


def events(topic, key=None, since=None, until=lambda found: False, timeout=60):
    """JSON events of a topic (keyed by key, or newer than since), read from the start until
    until(found) holds or the timeout passes."""
    consumer = KafkaConsumer(
        topic, bootstrap_servers=KAFKA, auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=2000
    )
    found = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not until(found):
            for message in consumer:
                if key is not None and message.key != key.encode():
                    continue
                event = json.loads(message.value)
                # Since a time: the platform's events carry theirs (other producers, such as the
                # dashboards test's traffic, may not).
                if since is not None and ("ts" not in event or datetime.datetime.fromisoformat(event["ts"]) < since):
                    continue
                found.append(event)
    finally:
        consumer.close()
    return found


def workflow_done(found):
    return any(event["event"] in ("workflow.completed", "workflow.failed") for event in found)


def run_workflow(queue, steps, timeout=120):
    workflow_id = f"wf-{uuid.uuid4().hex[:12]}"
    result = queue.send_task("auterity.run_workflow", args=[workflow_id, steps])
    return workflow_id, result.get(timeout=timeout)


def test_ping_answers_pong(queue):
    assert queue.send_task("auterity.ping").get(timeout=60) == "pong"


def test_a_three_step_workflow_completes_and_its_events_come_back_in_order(queue):
    steps = [
        {"name": "extract", "action": "echo", "seconds": 0},
        {"name": "transform", "action": "sleep", "seconds": 1},
        {"name": "load", "action": "echo", "seconds": 0},
    ]
    workflow_id, result = run_workflow(queue, steps)
    assert result == {"workflow_id": workflow_id, "status": "completed", "steps": 3}
    found = events("workflow-events", key=workflow_id, until=workflow_done)
    assert [(event["event"], event.get("step")) for event in found] == [
        ("workflow.started", None),
        ("step.completed", "extract"),
        ("step.completed", "transform"),
        ("step.completed", "load"),
        ("workflow.completed", None),
    ]
    assert all(event["workflow_id"] == workflow_id and event["ts"] for event in found)


def test_a_failing_step_reaches_the_error_topic(queue):
    steps = [
        {"name": "fetch", "action": "echo", "seconds": 0},
        {"name": "explode", "action": "fail", "seconds": 0},
        {"name": "never", "action": "echo", "seconds": 0},
    ]
    workflow_id, result = run_workflow(queue, steps)
    assert result["status"] == "failed"
    errors = events("error-events", key=workflow_id, until=lambda found: found)
    assert [(event["event"], event["step"]) for event in errors] == [("step.failed", "explode")]
    found = events("workflow-events", key=workflow_id, until=workflow_done)
    assert [event["event"] for event in found] == ["workflow.started", "step.completed", "workflow.failed"]


def test_a_heartbeat_reaches_the_audit_topic_within_two_intervals():
    since = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=2 * HEARTBEAT_SECONDS)
    found = events(
        "audit-events",
        since=since,
        until=lambda found: any(event["event"] == "beat.heartbeat" for event in found),
        timeout=2 * HEARTBEAT_SECONDS + 10,
    )
    assert any(event["event"] == "beat.heartbeat" for event in found), found


def step_running(queue, workflow_id, name):
    """Whether a worker is running the workflow's step of that name: its run_step task is
    STARTED in the result database (the application tracks started tasks, and its extended
    results carry the task's name and arguments: the workflow's state, the step, its index)."""
    backend = queue.backend
    keys = list(backend.client.scan_iter(match=backend.task_keyprefix + b"*", count=1000))
    for raw in backend.client.mget(keys) if keys else []:
        if raw is None:  # expired or removed since the scan
            continue
        meta = backend.decode_result(raw)
        if meta.get("status") != "STARTED" or meta.get("name") != "auterity.run_step":
            continue
        state, step = (meta.get("args") or [None, None])[:2]
        if isinstance(state, dict) and state.get("workflow_id") == workflow_id and step.get("name") == name:
            return True
    return False


@pytest.mark.usefixtures("redeployed")
def test_a_worker_killed_during_a_step_finishes_the_workflow_after_its_restart(queue):
    # The unacknowledged step goes back to the queue once the (shortened) visibility timeout
    # has passed.
    steps = [
        {"name": "before", "action": "echo", "seconds": 0},
        {"name": "long", "action": "sleep", "seconds": 8},
        {"name": "after", "action": "echo", "seconds": 0},
    ]
    workflow_id = f"wf-{uuid.uuid4().hex[:12]}"
    result = queue.send_task("auterity.run_workflow", args=[workflow_id, steps])
    first = events("workflow-events", key=workflow_id, until=lambda found: len(found) >= 2)
    assert [event["event"] for event in first] == ["workflow.started", "step.completed"]
    # Killed once the long step runs (its 8 s give the kill room), and seen still running
    # after the kill: the worker died inside it.
    assert wait_for(lambda: step_running(queue, workflow_id, "long"), 30, interval=0.2), "the long step never started"
    assert docker("kill", "celery_worker").returncode == 0
    assert step_running(queue, workflow_id, "long"), "the long step ended before the worker was killed"
    assert docker("start", "celery_worker").returncode == 0
    assert result.get(timeout=180) == {"workflow_id": workflow_id, "status": "completed", "steps": 3}
    found = events("workflow-events", key=workflow_id, until=workflow_done)
    completed = [event["step"] for event in found if event["event"] == "step.completed"]
    assert completed == ["before", "long", "after"]


def heartbeat_senders(seconds):
    """The scheduler of each heartbeat sent in the next `seconds` seconds, in order."""
    since = datetime.datetime.now(datetime.UTC)
    found = events("audit-events", since=since, timeout=seconds)
    return [event["scheduler"] for event in found if event["event"] == "beat.heartbeat"]


def start_a_second_scheduler(name):
    """Another beat container beside the deployed one, with its image, settings and mounts, as
    beat on a second host would run."""
    deployed = json.loads(docker("inspect", "celery_beat").stdout)[0]
    args = ["run", "-d", "--name", name, "--network", "auterity", "--user", deployed["Config"]["User"]]
    for variable in deployed["Config"]["Env"]:
        args += ["-e", variable]
    for mount in deployed["Mounts"]:
        args += ["-v", f"{mount['Source']}:{mount['Destination']}:ro"]
    started = docker(*args, deployed["Config"]["Image"], *deployed["Config"]["Cmd"])
    assert started.returncode == 0, started.stderr
    return {"celery_beat": deployed["Config"]["Hostname"], name: started.stdout.strip()[:12]}


@pytest.mark.usefixtures("redeployed")
def test_one_scheduler_sends_and_a_standby_takes_over_when_it_stops():
    # Heartbeats every 5 s, and a lock that a stopped scheduler's standby waits 15 s for at most
    # (conftest.py: redeployed).
    try:
        containers = {host: name for name, host in start_a_second_scheduler("celery_beat_standby").items()}
        # Both run; one sends: about one heartbeat per interval, all from one scheduler.
        senders = heartbeat_senders(30)
        assert len(set(senders)) == 1 and 3 <= len(senders) <= 7, senders
        active = containers[senders[0]]
        standby = next(name for name in containers.values() if name != active)

        assert docker("stop", active).returncode == 0
        after = heartbeat_senders(35)
        assert after and {containers[sender] for sender in after} == {standby}, after
    finally:
        docker("rm", "-f", "celery_beat_standby")
        docker("start", "celery_beat")


def flower_succeeded(task):
    metrics = get_bytes(f"{FLOWER}/metrics", "admin", "flower_admin_password").decode()
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith("flower_events_total{") and 'type="task-succeeded"' in line and f'task="{task}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_flower_counts_the_succeeded_tasks(queue):
    before = flower_succeeded("auterity.ping")
    for _ in range(3):
        assert queue.send_task("auterity.ping").get(timeout=60) == "pong"
    assert wait_for(lambda: flower_succeeded("auterity.ping") >= before + 3, 30)


def test_a_workflow_is_one_trace_in_jaeger_with_a_span_per_step(queue):
    steps = [{"name": f"step-{index}", "action": "echo", "seconds": 0} for index in range(3)]
    sent = queue.send_task("auterity.run_workflow", args=[f"wf-{uuid.uuid4().hex[:12]}", steps])
    assert sent.get(timeout=120)["status"] == "completed"
    # The worker's span of the workflow task carries the task's id.
    tags = urllib.parse.quote(json.dumps({"messaging.message.id": sent.id}))

    def trace_with_every_step():
        """The workflow's trace once the spans of its three steps are in (the worker's and the
        gateway's batches arrive apart)."""
        found = get_json(f"{JAEGER}/api/traces?service=celery-worker&tags={tags}&lookback=1h&limit=5")["data"]
        if not found:
            return None
        spans = get_json(f"{JAEGER}/api/traces/{found[0]['traceID']}")["data"][0]["spans"]
        operations = [span["operationName"] for span in spans]
        return operations if operations.count("run/auterity.run_step") == 3 else None

    operations = wait_for(trace_with_every_step, 90)
    assert operations, f"no trace of task {sent.id} with a span for each of its three steps in Jaeger"
    assert "run/auterity.run_workflow" in operations
