"""A run that changes nothing, on the all-in-one inventory (inventory/local): how long a second
site.yml takes, how many tasks it runs, and what each service adds to it.

What a service adds is the time of its own tasks in that run: its preflight in the first play
and its deploy step in the second, from the timestamps that the ansible.posix.profile_tasks
callback prints before each task. The rest (facts, the stack's and Docker Engine's checks,
Docker Engine and the stack's shared setup, the port check, the summary) is the shared part,
also measured in the same run by a site.yml with no service at all. Goals: a no-op run of the
five first services of the list (Vault, Kafka, Kafka UI, Redis, PostgreSQL) in 30 s or less,
and no service adding more than 3 s. Deploys the stack first when it is not up (that run is
not timed)."""

import json
import pathlib
import re
import sys

import yaml

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from project import ROOT, SERVICES, run_playbook  # noqa: E402

GOAL_FIRST_FIVE, GOAL_PER_SERVICE = 30.0, 3.0
FIRST_FIVE = SERVICES[:5]
# profile_tasks' line under each task banner: "<date> (<previous task's duration>) <total> ***".
DURATION = re.compile(r"\((\d+):(\d+):(\d+(?:\.\d+)?)\)\s+[\d:.]+\s+\*+\s*$")
# The task banners that start a service's part of each play (playbooks/tasks/service_*.yml).
SERVICE_START = re.compile(r"^(?:Inputs of|Deploy) (\w+)$")


def run(playbook, *args, profile=False):
    done = run_playbook(
        playbook, *args, env={"ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks"} if profile else None
    )
    if done.rc != 0 or not done.recap:
        sys.exit(f"{playbook} failed:\n{done.output[-3000:]}")
    return done


def seconds_by_service(output):
    """Each task's duration, summed by the service whose part of the run it belongs to. The
    playbook's own tasks (site.yml's) belong to the shared part."""
    shared_tasks = {
        task["name"] for play in yaml.safe_load((ROOT / "playbooks/site.yml").read_text()) for task in play["tasks"]
    } | {"Gathering Facts"}
    lines = output.splitlines()
    totals, owner, previous = {}, "shared", "shared"
    for index, line in enumerate(lines):
        if not line.startswith("TASK ["):
            continue
        name = line[len("TASK [") :].rsplit("]", 1)[0]
        timing = DURATION.search(lines[index + 1]) if index + 1 < len(lines) else None
        if timing:
            hours, minutes, secs = timing.groups()
            totals[previous] = totals.get(previous, 0.0) + int(hours) * 3600 + int(minutes) * 60 + float(secs)
        started = SERVICE_START.match(name)
        if started and started.group(1) in SERVICES:
            owner = started.group(1)
        elif name in shared_tasks:
            owner = "shared"
        previous = owner
    # The last task's duration is printed only in the callback's closing summary.
    return totals


def main():
    run("site.yml")  # brings the stack up, or finds it up; not timed
    full = run("site.yml", profile=True)
    five = run("site.yml", "-e", json.dumps({"site_services": FIRST_FIVE}))
    host_only = run("site.yml", "-e", json.dumps({"site_services": []}))
    by_service = seconds_by_service(full.output)
    print("No-op run on inventory/local (the stack deployed, nothing to change)")
    print(
        f"  site.yml, all {len(SERVICES)} services     {full.elapsed:6.1f} s  {full.tasks():4d} tasks"
        f"  changed={full.changed()}"
    )
    print(
        f"  site.yml, the {len(FIRST_FIVE)} first services  {five.elapsed:6.1f} s  {five.tasks():4d} tasks"
        f"  changed={five.changed()}  (goal <= {GOAL_FIRST_FIVE:.0f} s; {', '.join(FIRST_FIVE)})"
    )
    print(f"  site.yml, no service (baseline)  {host_only.elapsed:6.1f} s  {host_only.tasks():4d} tasks")
    print(
        f"  per service on average           {(full.elapsed - host_only.elapsed) / len(SERVICES):6.1f} s"
        f"  (goal <= {GOAL_PER_SERVICE:.0f} s)"
    )
    print(f"What each service's own tasks took in that run of all {len(SERVICES)} (preflight and deploy step)")
    over = [service for service in SERVICES if by_service.get(service, 0.0) > GOAL_PER_SERVICE]
    for service in SERVICES:
        mark = "  over the goal" if service in over else ""
        print(f"  {service:<32} {by_service.get(service, 0.0):6.1f} s{mark}")
    print(f"  {'shared part':<32} {by_service.get('shared', 0.0):6.1f} s")
    print(f"  services over {GOAL_PER_SERVICE:.0f} s: {len(over)} of {len(SERVICES)}")


if __name__ == "__main__":
    main()
