"""Run tasks through ansible-playbook the way a user does, on localhost, with the project's modules.

Each run gets its own directory holding the generated playbook, an extra-vars file (so the token
never appears on a command line) and the registered result, which a last task saves to a file:
the console output is left exactly as a user would see it.
"""

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


def _environment():
    env = {key: value for key, value in os.environ.items() if not key.startswith(("VAULT_", "BAO_", "ANSIBLE_"))}
    env.update(
        ANSIBLE_LIBRARY=str(ROOT / "library"),
        ANSIBLE_MODULE_UTILS=str(ROOT / "module_utils"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        ANSIBLE_LOCALHOST_WARNING="0",
    )
    return env


def run_tasks(workdir, tasks, extra_vars, flags=(), *, register=None, timeout=1800):
    """Run tasks in one play on localhost; when register names a variable, return its value as `result`."""
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
                # Saved in check mode too, and never echoed: it may hold a secret_id.
                "check_mode": False,
                "diff": False,
                "no_log": True,
            }
        )
    play = {
        "name": "vault_seed test run",
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "vars": {"ansible_python_interpreter": sys.executable},
        "tasks": tasks,
    }
    playbook = workdir / "playbook.yml"
    playbook.write_text(json.dumps([play], indent=2))  # JSON is YAML: no quoting surprises
    vars_file = workdir / "vars.json"
    vars_file.touch(mode=0o600)
    vars_file.write_text(json.dumps(extra_vars))
    command = [ANSIBLE_PLAYBOOK, "-i", "localhost,", str(playbook), "-e", f"@{vars_file}", *flags]
    started = time.monotonic()
    completed = subprocess.run(
        command, cwd=workdir, env=_environment(), capture_output=True, text=True, timeout=timeout, check=False
    )
    elapsed = time.monotonic() - started
    result = json.loads(result_path.read_text()) if register and result_path.exists() else None
    return PlaybookRun(completed.returncode, completed.stdout + completed.stderr, elapsed, result)
