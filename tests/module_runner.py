"""Run a project module through ansible-playbook the way a user does: on localhost, with the
project's library/ and module_utils/.

Each run gets its own directory holding the generated playbook, an optional extra-vars file (so
that secrets never appear on a command line) and the registered result, which a last task saves
to a file: the console output is left exactly as a user would see it.
"""

import json
import os
import pathlib
import sys
import time
from dataclasses import dataclass, field

from project import events_environment, host_stats, read_events, run_ansible_playbook

ROOT = pathlib.Path(__file__).resolve().parents[1]
ANSIBLE_PLAYBOOK = str(pathlib.Path(sys.executable).with_name("ansible-playbook"))
RESULT_FILE = "result.json"


@dataclass
class PlaybookRun:
    rc: int
    output: str
    elapsed: float
    result: dict | None
    # The run's events (tests/ansible_plugins/callback/run_events.py): plays, task results, stats.
    events: list = field(default_factory=list)

    @property
    def changed_count(self):
        """Tasks that reported a change on localhost, from the run's stats."""
        return host_stats(self.events).get("changed")

    @property
    def failed(self):
        return self.rc != 0 or self.result is None or bool(self.result.get("failed"))

    @property
    def changed(self):
        return bool(self.result and self.result.get("changed"))


def environment(drop_prefixes=("ANSIBLE_",)):
    """The caller's environment without variables starting with drop_prefixes, set up for the project."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(tuple(drop_prefixes))}
    env.update(
        ANSIBLE_LIBRARY=str(ROOT / "library"),
        ANSIBLE_MODULE_UTILS=str(ROOT / "module_utils"),
        ANSIBLE_ACTION_PLUGINS=str(ROOT / "tests" / "ansible_plugins" / "action"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
    )
    return env


def run_tasks(
    workdir,
    tasks,
    flags=(),
    *,
    extra_vars=None,
    register=None,
    play_name="module test run",
    drop_env=("ANSIBLE_",),
    hide_result=False,
    timeout=1800,
):
    """Run tasks in one play on localhost; when register names a variable, its value becomes `result`.

    extra_vars reach the play through a file readable by its owner only; drop_env lists the
    prefixes of environment variables the run must not see; hide_result keeps the saving task's
    own output (which holds the result) off the console.
    """
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    result_path = workdir / RESULT_FILE
    tasks = list(tasks)
    if register:
        # On the controller, without a module: see tests/ansible_plugins/action/save_result.py.
        save = {
            "name": "Save the registered result",
            "save_result": {"content": f"{{{{ {register} | to_json }}}}", "dest": str(result_path)},
            "when": f"{register} is defined",
        }
        if hide_result:
            save["no_log"] = True
        tasks.append(save)
    play = {
        "name": play_name,
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "vars": {"ansible_python_interpreter": sys.executable},
        "tasks": tasks,
    }
    playbook = workdir / "playbook.yml"
    playbook.write_text(json.dumps([play], indent=2))  # JSON is YAML: no quoting surprises
    command = [ANSIBLE_PLAYBOOK, "-i", "localhost,", str(playbook)]
    if extra_vars is not None:
        vars_file = workdir / "vars.json"
        vars_file.touch(mode=0o600)
        vars_file.write_text(json.dumps(extra_vars))
        command += ["-e", f"@{vars_file}"]
    command += flags
    events_file = workdir / "events.jsonl"
    events_file.unlink(missing_ok=True)
    started = time.monotonic()
    rc, output = run_ansible_playbook(
        command[1:], workdir, dict(environment(drop_env), **events_environment(events_file)), timeout
    )
    elapsed = time.monotonic() - started
    result = json.loads(result_path.read_text()) if register and result_path.exists() else None
    events = read_events(events_file)
    return PlaybookRun(rc, output, elapsed, result, events)
