"""The project as its tests and benchmarks see it: the repository root, the list of services
that site.yml deploys, and one way to run a playbook the way a user does (from the
repository root, with the venv's ansible-playbook)."""

import atexit
import contextlib
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
ANSIBLE_PLAYBOOK = str(pathlib.Path(sys.executable).with_name("ansible-playbook"))
SERVICES = [
    service["name"]
    for service in yaml.safe_load((ROOT / "playbooks/group_vars/all/services.yml").read_text())["stack_services"]
]


def role_default(role, name):
    """A role's default value, as written in its defaults/main.yml."""
    return yaml.safe_load((ROOT / "roles" / role / "defaults/main.yml").read_text())[name]


EVENTS_PLUGINS = ROOT / "tests" / "ansible_plugins" / "callback"


def events_environment(events_file):
    """Environment variables that have a run write its events (the run_events callback) to
    events_file, beside the console output."""
    return {
        "ANSIBLE_CALLBACK_PLUGINS": str(EVENTS_PLUGINS),
        "ANSIBLE_CALLBACKS_ENABLED": "run_events",
        "RUN_EVENTS_FILE": str(events_file),
    }


def read_events(events_file):
    """The events a run wrote (none when it wrote no file: it stopped before its first play)."""
    events_file = pathlib.Path(events_file)
    return [json.loads(line) for line in events_file.read_text().splitlines()] if events_file.exists() else []


def run_stats(events):
    """Each host's stats of a run (ok, changed, unreachable, failed, skipped), {} without any."""
    stats = [event for event in events if event["event"] == "stats"]
    return stats[-1]["hosts"] if stats else {}


def host_stats(events, host="localhost"):
    """One host's stats of a run, {} without any."""
    return run_stats(events).get(host, {})


class PlaybookRun:
    """A finished run: its exit code, the console output as a user sees it, its time, and what it
    did as structured events (tests/ansible_plugins/callback/run_events.py): the plays, every
    task result, and each host's stats."""

    def __init__(self, completed, elapsed, events=()):
        self.rc = completed.returncode
        self.output = completed.stdout + completed.stderr
        self.elapsed = elapsed
        self.events = list(events)
        self.recap = run_stats(self.events)

    def changed(self, host="localhost"):
        return self.recap[host]["changed"]

    def results(self, host=None, status=None):
        """Task results, of one host and one status when given."""
        return [
            event
            for event in self.events
            if event["event"] == "task"
            and (host is None or event["host"] == host)
            and (status is None or event["status"] == status)
        ]

    def changed_tasks(self, host="localhost"):
        """The names of the tasks that reported a change on the host, for a failed assertion to
        name them."""
        return list(dict.fromkeys(event["name"] for event in self.results(host, "changed")))

    def failures(self):
        """What the failed tasks said (their msg), one per failed result."""
        return [event["msg"] for event in self.events if event["event"] == "task" and event["status"] == "failed"]

    def plays(self):
        """The names of the plays that started."""
        return [event["name"] for event in self.events if event["event"] == "play"]

    def tasks(self, host="localhost"):
        """Tasks the host went through: run or skipped."""
        return self.recap[host]["ok"] + self.recap[host]["skipped"]


def run_playbook(name, *args, inventory="inventory/local", timeout=1800, env=None):
    """playbooks/<name> with the given arguments (and environment variables added to this
    process's); never raises on a failed run."""
    with tempfile.TemporaryDirectory(prefix="run-events-") as directory:
        events_file = pathlib.Path(directory) / "events.jsonl"
        given = dict(env or {})
        events = events_environment(events_file)
        # Callbacks the caller enables (a benchmark's profile_tasks) run beside the events.
        if given.get("ANSIBLE_CALLBACKS_ENABLED"):
            events["ANSIBLE_CALLBACKS_ENABLED"] += "," + given.pop("ANSIBLE_CALLBACKS_ENABLED")
        env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", **events, **given)
        started = time.monotonic()
        arguments = ["-i", inventory, f"playbooks/{name}", *args]
        rc, output = run_ansible_playbook(arguments, ROOT, env, timeout)
        elapsed = time.monotonic() - started
        events = read_events(events_file)
    return PlaybookRun(subprocess.CompletedProcess(arguments, rc, output, ""), elapsed, events)


# Benchmarks measure what a user waits for, a whole ansible-playbook process: they set this to 0.
FORK_SERVER = os.environ.get("PLAYBOOK_FORK_SERVER", "1") != "0"
# Variables that differ from run to run without changing Ansible's configuration.
PER_RUN_VARIABLES = {"RUN_EVENTS_FILE"}


class ForkServer:
    """A tests/ansible_fork_server.py process for runs of one configuration, one run at a time."""

    SCRIPT = pathlib.Path(__file__).with_name("ansible_fork_server.py")

    def __init__(self, env, config_directory=None):
        # Ansible reads an ansible.cfg in the working directory when imported: the server starts
        # in the runs' directory when it holds one, else in a directory of its own without one.
        # A directory of its own is removed when the server is closed.
        self.own_directory = None if config_directory else tempfile.mkdtemp(prefix="ansible-fork-server-")
        self.directory = str(config_directory or self.own_directory)
        self.process = subprocess.Popen(
            [sys.executable, str(self.SCRIPT)],
            cwd=self.directory,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.lock = threading.Lock()
        self.usable = True
        atexit.register(self.close)

    def _answer(self):
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the ansible-playbook fork server stopped (exit code {self.process.poll()})")
        return json.loads(line)

    def run(self, args, cwd, env, timeout):
        """(exit code, output) of one ansible-playbook run; subprocess.TimeoutExpired past timeout.
        Anything else raised (an interrupt too) stops the run and leaves the server unusable."""
        with self.lock, tempfile.NamedTemporaryFile(prefix="ansible-playbook-", suffix=".log") as output:
            request = {"args": [str(arg) for arg in args], "env": env, "cwd": str(cwd), "output": output.name}
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
            pid = self._answer()["pid"]
            expired = threading.Event()

            def stop():
                expired.set()
                _kill_group(pid)

            # A timer, not a wait on the pipe: the answer may already sit in the reader's buffer.
            timer = threading.Timer(timeout, stop)
            timer.start()
            try:
                answer = self._answer()
            except BaseException:
                _kill_group(pid)
                self.usable = False
                raise
            finally:
                timer.cancel()
            if expired.is_set():
                raise subprocess.TimeoutExpired(["ansible-playbook", *args], timeout)
            return answer["rc"], pathlib.Path(output.name).read_text(errors="replace")

    def close(self):
        self.usable = False
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if self.own_directory:
            shutil.rmtree(self.own_directory, ignore_errors=True)


def _kill_group(pid):
    """Stop a run and the processes it started (each run is a process group of its own)."""
    with contextlib.suppress(ProcessLookupError):  # it has ended
        os.killpg(pid, signal.SIGKILL)


# Idle servers by configuration (environment and directory); a busy one is not shared.
_idle_servers = {}
_servers_lock = threading.Lock()


def run_ansible_playbook(args, cwd, env, timeout):
    """(exit code, output: stdout and stderr) of ansible-playbook with args, in cwd with env.

    Runs with the same configuration (the environment but for PER_RUN_VARIABLES, and the
    directory, where an ansible.cfg may be) go to a fork server of that configuration that is
    not busy (Ansible imported once per server); with FORK_SERVER off, each is a process of its own.
    """
    if not FORK_SERVER:
        completed = subprocess.run(
            [ANSIBLE_PLAYBOOK, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
        return completed.returncode, completed.stdout + completed.stderr
    key = (
        str(cwd if (pathlib.Path(cwd) / "ansible.cfg").exists() else ""),
        json.dumps(sorted((name, value) for name, value in env.items() if name not in PER_RUN_VARIABLES)),
    )
    with _servers_lock:
        idle = _idle_servers.setdefault(key, [])
        server = idle.pop() if idle else ForkServer(env, cwd if key[0] else None)
    try:
        return server.run(args, cwd, env, timeout)
    finally:
        if server.usable and server.process.poll() is None:
            with _servers_lock:
                _idle_servers[key].append(server)
        else:
            server.close()
