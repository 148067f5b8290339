"""The application's tasks; their names are the contract that callers and beat rely on."""

import logging
import time

from celery import chain

from auterity.application import app, events, settings

log = logging.getLogger(__name__)

ACTIONS = ("sleep", "echo", "fail")
# How long the marks of published step events are kept (a redelivered step looks them up).
PUBLISHED_MARK_SECONDS = 7 * 24 * 3600


class StepFailed(Exception):
    """A step whose action is `fail`: what a real step's error looks like to the workflow."""


def _check_steps(steps):
    if not isinstance(steps, list):
        raise ValueError("steps must be a list of {name, action, seconds}")
    for index, step in enumerate(steps):
        if not isinstance(step, dict) or not isinstance(step.get("name"), str) or not step["name"]:
            raise ValueError(f"step {index} has no name")
        if step.get("action") not in ACTIONS:
            raise ValueError(f"step {step['name']!r}: action must be one of {', '.join(ACTIONS)}")
        if not isinstance(step.get("seconds", 0), int | float) or step.get("seconds", 0) < 0:
            raise ValueError(f"step {step['name']!r}: seconds must be a number of at least 0")


def _workflow_event(workflow_id, event, **fields):
    return events.publish(settings.topic_workflow, workflow_id, {"event": event, "workflow_id": workflow_id, **fields})


@app.task(name="auterity.ping")
def ping():
    return "pong"


@app.task(name="auterity.run_workflow", bind=True)
def run_workflow(self, workflow_id, steps):
    """Run the steps in order, each as a task of its own; the result is the last one's:
    {"workflow_id", "status": "completed"|"failed", "steps": <number of steps>}."""
    _check_steps(steps)
    _workflow_event(workflow_id, "workflow.started", steps=len(steps))
    state = {"workflow_id": workflow_id, "status": "running", "steps": len(steps)}
    workflow = chain(
        run_step.s(state, step, index) if index == 0 else run_step.s(step, index) for index, step in enumerate(steps)
    )
    finish = finish_workflow.s() if steps else finish_workflow.si(state)
    # The chain takes this task's id for its last task, so the caller's result is the workflow's.
    raise self.replace(workflow | finish if steps else finish)


def _published_mark(workflow_id, index):
    return f"auterity:published:{workflow_id}:{index}:step.completed"


@app.task(name="auterity.run_step")
def run_step(state, step, index):
    """One step. A step after a failed one does nothing; a failing step publishes step.failed to
    the error topic and marks the workflow failed, without failing the chain (so that the
    workflow's result says failed)."""
    if state["status"] == "failed":
        return state
    try:
        if step["action"] == "sleep":
            time.sleep(step.get("seconds", 0))
        elif step["action"] == "fail":
            raise StepFailed(f"step {step['name']!r} failed as asked")
        else:
            log.info("workflow %s step %s: echo", state["workflow_id"], step["name"])
    except Exception as error:  # noqa: BLE001 - any error of a step fails the workflow, not the chain
        events.publish(
            settings.topic_error,
            state["workflow_id"],
            {"event": "step.failed", "workflow_id": state["workflow_id"], "step": step["name"], "error": str(error)},
        )
        return {**state, "status": "failed", "failed_step": step["name"], "error": str(error)}
    # A step redelivered after its worker died runs again; its event is published once. The
    # mark is set after Kafka acknowledged the event.
    redis = app.backend.client
    mark = _published_mark(state["workflow_id"], index)
    if not redis.exists(mark):
        _workflow_event(state["workflow_id"], "step.completed", step=step["name"], index=index)
        redis.set(mark, 1, ex=PUBLISHED_MARK_SECONDS)
    return state


@app.task(name="auterity.finish_workflow")
def finish_workflow(state):
    status = "failed" if state["status"] == "failed" else "completed"
    fields = {"step": state["failed_step"], "error": state["error"]} if status == "failed" else {}
    _workflow_event(state["workflow_id"], f"workflow.{status}", **fields)
    return {**state, "status": status}


@app.task(name="auterity.heartbeat", bind=True)
def heartbeat(self):
    """Beat's proof of life: which scheduler sent it (the sender's host, from the message)."""
    origin = self.request.origin or ""
    scheduler = origin.rpartition("@")[2] or origin or "unknown"
    return events.publish(settings.topic_audit, scheduler, {"event": "beat.heartbeat", "scheduler": scheduler})
