"""run_events: a playbook run's results as JSON lines, for the tests to read instead of the
console output (which stays exactly as a user sees it).

Enabled by the tests (tests/project.py) with ANSIBLE_CALLBACKS_ENABLED=run_events and the file
in RUN_EVENTS_FILE. One object per line:
  {"event": "play", "name": ...}
  {"event": "task", "name": ..., "host": ..., "status": "ok"|"changed"|"failed"|"ignored"|"skipped"|"unreachable",
   "msg": ...,                      (msg for a failed or unreachable task only)
   "removed": ...}                  (the destroy step's names of what it removed, when given)
  {"event": "stats", "hosts": {host: {"ok", "changed", "unreachable", "failed", "skipped"}}}
A result's other keys are never written (the destroy step's `removed` holds container and
volume names and host paths, never a secret): a task's output may hold what no_log hides from the
console only in part. A failure's msg is the one the console prints, followed for a loop by
each failed item's (Ansible censors a no_log task's before any callback sees it).
"""

from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: run_events
type: notification
short_description: Write a run's plays, task results and stats as JSON lines (RUN_EVENTS_FILE)
description:
  - For the project's tests; the console output is left to the stdout callback.
requirements:
  - enabled with ANSIBLE_CALLBACKS_ENABLED=run_events
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "run_events"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        path = os.environ.get("RUN_EVENTS_FILE", "")
        self._file = open(path, "a", encoding="utf-8") if path else None  # noqa: SIM115 - open for the whole run

    def _write(self, event):
        if self._file:
            self._file.write(json.dumps(event, default=str) + "\n")
            self._file.flush()

    def v2_playbook_on_play_start(self, play):
        self._write({"event": "play", "name": play.get_name()})

    def _task(self, result, status):
        event = {"event": "task", "name": result.task_name, "host": result._host.get_name(), "status": status}
        if status in ("failed", "unreachable"):
            # A loop's own msg says only that an item failed: the failed items' follow it.
            items = [item for item in result._result.get("results") or [] if isinstance(item, dict)]
            messages = [result._result.get("msg", "")] + [item.get("msg", "") for item in items if item.get("failed")]
            event["msg"] = "\n".join(str(message) for message in messages if message)
        if isinstance(result._result.get("removed"), dict):
            event["removed"] = result._result["removed"]
        self._write(event)

    def v2_runner_on_ok(self, result):
        self._task(result, "changed" if result._result.get("changed") else "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._task(result, "ignored" if ignore_errors else "failed")

    def v2_runner_on_skipped(self, result):
        self._task(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._task(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        hosts = {}
        for host in sorted(stats.processed):
            summary = stats.summarize(host)
            hosts[host] = {
                "ok": summary["ok"],
                "changed": summary["changed"],
                "unreachable": summary["unreachable"],
                "failed": summary["failures"],
                "skipped": summary["skipped"],
            }
        self._write({"event": "stats", "hosts": hosts})
        if self._file:
            self._file.close()
            self._file = None
