"""A run that changes nothing, on the all-in-one inventory (inventory/local): how long a second
site.yml takes, how many tasks it runs, and what each service adds to it.

What a service adds is the time of its own tasks in that run: its deploy step in the second
play, from the timestamps that the ansible.posix.profile_tasks callback prints before each
task. The rest (facts, every input check of the first play, one include loop over the
services, Docker Engine and the stack's shared setup, the summary) is the shared part,
also measured in the same run by a site.yml with no service at all, and so is the no-op run
with every template compiled in every task (plugins/vars/compiled_templates.py off). Then one setting of one
service changed (redis_maxmemory): that service alone must be re-created, and the run should
take no more than 10 s over the no-op run; the setting is put back afterwards.

Goals: the whole no-op run in 25 s or less; each service 1 s or less over the baseline, and 4
tasks or fewer reported per service. Deploys the stack first when it is not up (that run is
not timed)."""

import json
import os
import pathlib
import re
import subprocess
import sys

import yaml

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
# Each run a whole ansible-playbook process, as a user starts it (tests/project.py).
os.environ["PLAYBOOK_FORK_SERVER"] = "0"

from project import ROOT, SERVICES, run_playbook  # noqa: E402

GOAL_NOOP, GOAL_PER_SERVICE, GOAL_TASKS_PER_SERVICE, GOAL_ONE_CHANGE = 25.0, 1.0, 4, 10.0
FIRST_FIVE = SERVICES[:5]
# profile_tasks' line under each task banner: "<date> (<previous task's duration>) <total> ***".
DURATION = re.compile(r"\((\d+):(\d+):(\d+(?:\.\d+)?)\)\s+[\d:.]+\s+\*+\s*$")
# The task banner that starts a service's part of the Deploy play (playbooks/tasks/service_deploy.yml).
SERVICE_START = re.compile(r"^Deploy (\w+)$")


def run(playbook, *args, profile=False, env=None):
    env = dict(env or {}, **({"ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks"} if profile else {}))
    done = run_playbook(playbook, *args, env=env)
    if done.rc != 0 or not done.recap:
        sys.exit(f"{playbook} failed:\n{done.output[-3000:]}")
    return done


def seconds_by_service(output):
    """Each task's duration, and the number of tasks, summed by the service whose part of the
    run it belongs to. The playbook's own tasks (site.yml's) belong to the shared part."""
    shared_tasks = {
        task["name"] for play in yaml.safe_load((ROOT / "playbooks/site.yml").read_text()) for task in play["tasks"]
    } | {"Gathering Facts"}
    lines = output.splitlines()
    totals, counts, owner, previous = {}, {}, "shared", "shared"
    for index, line in enumerate(lines):
        if not line.startswith("TASK ["):
            continue
        name = line[len("TASK [") :].rsplit("]", 1)[0]
        counts[owner] = counts.get(owner, 0)
        timing = DURATION.search(lines[index + 1]) if index + 1 < len(lines) else None
        if timing:
            hours, minutes, secs = timing.groups()
            totals[previous] = totals.get(previous, 0.0) + int(hours) * 3600 + int(minutes) * 60 + float(secs)
        started = SERVICE_START.match(name)
        if started and started.group(1) in SERVICES:
            owner = started.group(1)
        elif name in shared_tasks:
            owner = "shared"
        counts[owner] = counts.get(owner, 0) + 1
        previous = owner
    # The last task's duration is printed only in the callback's closing summary.
    return totals, counts


def container_started(name):
    """When the container last started (docker inspect), to tell which were re-created."""
    done = subprocess.run(
        ["docker", "inspect", "--format", "{{.State.StartedAt}}", name], capture_output=True, text=True, check=False
    )
    return done.stdout.strip()


def stack_containers():
    done = subprocess.run(
        ["docker", "ps", "--filter", "label=org.auterity.stack=auterity", "--format", "{{.Names}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return sorted(done.stdout.split())


def main():
    run("site.yml")  # brings the stack up, or finds it up; not timed
    full = run("site.yml", profile=True)
    host_only = run("site.yml", "-e", json.dumps({"site_services": []}))
    # The same no-op run with every template compiled in every task (plugins/vars/compiled_templates.py off).
    uncached = run("site.yml", env={"STACK_TEMPLATE_CACHE": "false"})
    by_service, tasks_by_service = seconds_by_service(full.output)
    per_service = (full.elapsed - host_only.elapsed) / len(SERVICES)
    print("No-op run on inventory/local (the stack deployed, nothing to change)")
    print(
        f"  site.yml, all {len(SERVICES)} services     {full.elapsed:6.1f} s  {full.tasks():4d} tasks"
        f"  changed={full.changed()}  (goal <= {GOAL_NOOP:.0f} s; {full.elapsed / GOAL_NOOP:.2f} x the goal)"
    )
    print(
        f"  site.yml, no service (baseline)  {host_only.elapsed:6.1f} s  {host_only.tasks():4d} tasks"
        f"  (the whole run is {full.elapsed / host_only.elapsed:.2f} x the baseline)"
    )
    print(
        f"  the same, templates compiled in  {uncached.elapsed:6.1f} s  {uncached.tasks():4d} tasks"
        f"  (the run with them compiled once is {full.elapsed / uncached.elapsed:.2f} x this one)"
    )
    print(
        f"  per service over the baseline    {per_service:6.1f} s  "
        f"{(full.tasks() - host_only.tasks()) / len(SERVICES):4.1f} tasks  "
        f"(goal <= {GOAL_PER_SERVICE:.0f} s and <= {GOAL_TASKS_PER_SERVICE} tasks)"
    )
    print(f"What each service's own tasks took in that run of all {len(SERVICES)} (its deploy step)")
    over = [service for service in SERVICES if by_service.get(service, 0.0) > GOAL_PER_SERVICE]
    for service in SERVICES:
        mark = "  over the goal" if service in over else ""
        print(
            f"  {service:<32} {by_service.get(service, 0.0):6.1f} s  {tasks_by_service.get(service, 0):3d} tasks{mark}"
        )
    print(f"  {'shared part':<32} {by_service.get('shared', 0.0):6.1f} s  {tasks_by_service.get('shared', 0):3d} tasks")
    print(f"  services over {GOAL_PER_SERVICE:.0f} s: {len(over)} of {len(SERVICES)}")

    # One setting of one service: only that container is re-created.
    before = {name: container_started(name) for name in stack_containers()}
    changed = run("site.yml", "-e", "redis_maxmemory=300mb")
    after = {name: container_started(name) for name in before}
    recreated = sorted(name for name in before if after[name] != before[name])
    run("site.yml")  # the inventory's setting back
    print("One setting changed (redis_maxmemory=300mb), then put back")
    print(
        f"  site.yml                         {changed.elapsed:6.1f} s  changed={changed.changed()}"
        f"  {changed.elapsed - full.elapsed:+.1f} s over the no-op run (goal <= +{GOAL_ONE_CHANGE:.0f} s)"
    )
    print(f"  containers re-created            {', '.join(recreated) or 'none'}  (goal: redis alone)")


if __name__ == "__main__":
    main()
