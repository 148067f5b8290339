"""The project as its tests and benchmarks see it: the repository root, the list of services
that site.yml deploys, and one way to run a playbook the way a user does (from the
repository root, with the venv's ansible-playbook)."""

import os
import pathlib
import re
import subprocess
import sys
import time

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
ANSIBLE_PLAYBOOK = str(pathlib.Path(sys.executable).with_name("ansible-playbook"))
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)", re.M)
SERVICES = [
    service["name"]
    for service in yaml.safe_load((ROOT / "playbooks/group_vars/all/services.yml").read_text())["stack_services"]
]


def role_default(role, name):
    """A role's default value, as written in its defaults/main.yml."""
    return yaml.safe_load((ROOT / "roles" / role / "defaults/main.yml").read_text())[name]


class PlaybookRun:
    def __init__(self, completed, elapsed):
        self.rc = completed.returncode
        self.output = completed.stdout + completed.stderr
        self.elapsed = elapsed
        self.recap = {
            host: {
                "ok": int(ok),
                "changed": int(changed),
                "unreachable": int(unr),
                "failed": int(failed),
                "skipped": int(skipped),
            }
            for host, ok, changed, unr, failed, skipped in RECAP.findall(self.output)
        }

    def changed(self, host="localhost"):
        return self.recap[host]["changed"]

    def changed_tasks(self, host="localhost"):
        """The names of the tasks that reported a change on the host, for a failed assertion to
        name them."""
        names, task = [], None
        for line in self.output.splitlines():
            if line.startswith(("TASK [", "RUNNING HANDLER [")):
                task = line.split("[", 1)[1].rsplit("]", 1)[0]
            elif line.startswith((f"changed: [{host}]", f"changed: [{host} ->")) and task not in names:
                names.append(task)
        return names

    def tasks(self, host="localhost"):
        """Tasks the host went through: run or skipped."""
        return self.recap[host]["ok"] + self.recap[host]["skipped"]


def run_playbook(name, *args, inventory="inventory/local", timeout=1800, env=None):
    """playbooks/<name> with the given arguments (and environment variables added to this
    process's); never raises on a failed run."""
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", **(env or {}))
    started = time.monotonic()
    completed = subprocess.run(
        [ANSIBLE_PLAYBOOK, "-i", inventory, f"playbooks/{name}", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return PlaybookRun(completed, time.monotonic() - started)
