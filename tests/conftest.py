"""Shared helpers: run the project's playbooks the way a user does, from the repository root."""

import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
ANSIBLE_PLAYBOOK = str(pathlib.Path(sys.executable).with_name("ansible-playbook"))
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


class PlaybookRun:
    def __init__(self, completed):
        self.rc = completed.returncode
        self.output = completed.stdout + completed.stderr
        self.recap = {
            host: {"ok": int(ok), "changed": int(changed), "unreachable": int(unr), "failed": int(failed)}
            for host, ok, changed, unr, failed in RECAP.findall(self.output)
        }

    def changed(self, host="localhost"):
        return self.recap[host]["changed"]


@pytest.fixture
def playbook():
    def run(name, *args, inventory="inventory/local"):
        env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
        completed = subprocess.run(
            [ANSIBLE_PLAYBOOK, "-i", inventory, f"playbooks/{name}", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        return PlaybookRun(completed)

    return run
