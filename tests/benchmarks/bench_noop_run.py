"""A run that changes nothing, on the all-in-one inventory (inventory/local): how long a second
site.yml takes, how many tasks it runs, and what each service adds to it.

The baseline, measured in the same run, is a site.yml run with no service at all (Docker
Engine, the stack's shared setup and the summary only): what a service adds is its own
playbook's no-op time minus that baseline. Goals: a no-op run of the five first services of
the list (Vault, Kafka, Kafka UI, Redis, PostgreSQL) in 30 s or less, and no service adding
more than 3 s. Deploys the stack first when it is not up (that run is not timed)."""

import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from project import SERVICES, run_playbook  # noqa: E402

GOAL_FIRST_FIVE, GOAL_PER_SERVICE = 30.0, 3.0
FIRST_FIVE = SERVICES[:5]


def run(playbook, *args):
    done = run_playbook(playbook, *args)
    if done.rc != 0 or not done.recap:
        sys.exit(f"{playbook} failed:\n{done.output[-3000:]}")
    return done.elapsed, done.tasks(), done.changed()


def main():
    run("site.yml")  # brings the stack up, or finds it up; not timed
    total, tasks, changed = run("site.yml")
    five, five_tasks, five_changed = run("site.yml", "-e", json.dumps({"site_services": FIRST_FIVE}))
    host_only, host_tasks, _ = run("site.yml", "-e", json.dumps({"site_services": []}))
    print("No-op run on inventory/local (the stack deployed, nothing to change)")
    print(f"  site.yml, all {len(SERVICES)} services     {total:6.1f} s  {tasks:4d} tasks  changed={changed}")
    print(
        f"  site.yml, the {len(FIRST_FIVE)} first services  {five:6.1f} s  {five_tasks:4d} tasks"
        f"  changed={five_changed}"
        f"  (goal <= {GOAL_FIRST_FIVE:.0f} s; {', '.join(FIRST_FIVE)})"
    )
    print(f"  site.yml, no service (baseline)  {host_only:6.1f} s  {host_tasks:4d} tasks")
    print(
        f"  per service on average           {(total - host_only) / len(SERVICES):6.1f} s"
        f"  (goal <= {GOAL_PER_SERVICE:.0f} s)"
    )
    for service in SERVICES:
        elapsed, service_tasks, service_changed = run(f"{service}.yml")
        print(
            f"  {service + '.yml':<32} {elapsed:6.1f} s  {service_tasks:4d} tasks  changed={service_changed}"
            f"  adds {elapsed - host_only:5.1f} s to the baseline"
        )


if __name__ == "__main__":
    main()
