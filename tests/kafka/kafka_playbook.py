"""Run kafka_topic through ansible-playbook the way a user does: on localhost, with the project's
library/ and module_utils/, and the registered result saved to a file by a last task, so the
console output stays exactly what a user sees."""

import json
import os
import pathlib
import subprocess
import sys
import time
from dataclasses import dataclass

ROOT = pathlib.Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = str(pathlib.Path(sys.executable).with_name("ansible-playbook"))
RESULT_FILE = "result.json"


@dataclass
class PlaybookRun:
    rc: int
    output: str
    elapsed: float
    result: dict | None

    @property
    def failed(self):
        return self.rc != 0 or self.result is None or bool(self.result.get("failed"))

    @property
    def changed(self):
        return bool(self.result and self.result.get("changed"))


def environment():
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    env.update(
        ANSIBLE_LIBRARY=str(ROOT / "library"),
        ANSIBLE_MODULE_UTILS=str(ROOT / "module_utils"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
    )
    return env


def run_tasks(workdir, tasks, flags=(), *, register=None, timeout=600):
    """Run tasks in one play on localhost; when register names a variable, its value becomes `result`."""
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    result_path = workdir / RESULT_FILE
    tasks = list(tasks)
    if register:
        tasks.append(
            {
                "name": "Save the registered result",
                "ansible.builtin.copy": {"content": f"{{{{ {register} | to_json }}}}", "dest": str(result_path)},
                "when": f"{register} is defined",
                "check_mode": False,
                "diff": False,
            }
        )
    play = {
        "name": "kafka_topic run",
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "vars": {"ansible_python_interpreter": sys.executable},
        "tasks": tasks,
    }
    playbook = workdir / "playbook.yml"
    playbook.write_text(json.dumps([play], indent=2))  # JSON is YAML: no quoting surprises
    command = [ANSIBLE_PLAYBOOK, "-i", "localhost,", str(playbook), *flags]
    started = time.monotonic()
    completed = subprocess.run(
        command, cwd=workdir, env=environment(), capture_output=True, text=True, timeout=timeout, check=False
    )
    elapsed = time.monotonic() - started
    result = json.loads(result_path.read_text()) if register and result_path.exists() else None
    return PlaybookRun(completed.returncode, completed.stdout + completed.stderr, elapsed, result)


def kafka_topic_task(options, name="Manage Kafka topics", register="kafka_result"):
    """One kafka_topic task that saves its result even when it fails."""
    return {"name": name, "kafka_topic": options, "register": register, "ignore_errors": True}
