"""The idle footprint of the all-in-one stack (inventory/local): the resident memory (RSS) of
every process of every stack container, per service and in total, after the stack has been up
and idle for a while. Goal: 4 GiB or less in total. Deploys the stack first when it is not up
(not measured), then waits IDLE_SECONDS so that start-up peaks are over."""

import os
import pathlib
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
# Each run a whole ansible-playbook process, as a user starts it (tests/project.py).
os.environ["PLAYBOOK_FORK_SERVER"] = "0"

from project import run_playbook  # noqa: E402

GOAL_BYTES = 4 * 1024**3
IDLE_SECONDS = 120


def docker(*args):
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout


def rss_bytes(pid):
    try:
        for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except FileNotFoundError:
        pass  # the process ended meanwhile
    return 0


def container_rss(name):
    """RSS of every process of the container (docker top lists their host pids)."""
    pids = docker("top", name, "-eo", "pid").split()[1:]
    return sum(rss_bytes(pid) for pid in pids)


def main():
    deployed = run_playbook("site.yml")
    if deployed.rc != 0:
        sys.exit(f"site.yml failed:\n{deployed.output[-3000:]}")
    time.sleep(IDLE_SECONDS)
    rows = docker(
        "ps", "--filter", "label=org.auterity.stack", "--format", '{{.Names}} {{.Label "org.auterity.service"}}'
    ).splitlines()
    usage = sorted(((container_rss(name), service) for name, service in (row.split() for row in rows)), reverse=True)
    total = sum(rss for rss, _ in usage)
    print(f"Idle footprint of the all-in-one stack, {IDLE_SECONDS} s after a no-op site.yml (RSS)")
    for rss, service in usage:
        print(f"  {service:<20} {rss / 1024**2:8.0f} MiB")
    goal = f"goal <= {GOAL_BYTES / 1024**2:.0f} MiB, {total / GOAL_BYTES:.0%} of it"
    print(f"  {'total':<20} {total / 1024**2:8.0f} MiB  ({goal})")


if __name__ == "__main__":
    main()
