"""A bad variable stops site.yml with a message that names it, before any host is changed.

site.yml's first play (playbooks/tasks/validate.yml) checks every input of every host and stops
them all at the first error, before the play that changes hosts. A few cases run site.yml (or a
one-service playbook) to show exactly that. The others run the same checks, imported from the
same file, in one ansible-playbook run: a play per bad input (its variables as the play's, the
services checked those of the case, as --tags would choose them), each rescued at its first
error, whose message must name the variable; and a first play with no bad input, which must
pass."""

import json
import os

import pytest
import yaml
from project import ROOT, run_playbook

# -e name=value, as a user would pass it (a string), the service whose checks run (as
# `--tags <service>`), and the variable the message must name.
BAD_VARIABLES = [
    ("redis_port=notaport", "redis", "redis_port"),
    ("redis_port=70000", "redis", "redis_port"),
    ("postgres_max_connections=lots", "postgres", "postgres_max_connections"),
    ("stack_image_source=sideways", "redis", "stack_image_source"),
    ("docker_log_max_size=huge", "redis", "docker_log_max_size"),
    ("vault_key_threshold=9", "vault", "vault_key_threshold"),
    ("vault_distribution=consul", "vault", "vault_distribution"),
    ("stack_publish_address=999.1.1.1", "redis", "stack_publish_address"),
    ("redis_bind_address=999.1.1.1", "redis", "redis_bind_address"),
    ("kafka_log_retention_hours=-5", "kafka", "kafka_log_retention_hours"),
    ("kafka_stack_topic_partitions=0", "kafka", "kafka_stack_topic_partitions"),
    ("redis_memory_limit=lots", "redis", "redis_memory_limit"),
    ("postgres_port=0", "postgres", "postgres_port"),
    ("s3_seaweedfs_volume_max=7", "s3", "s3_seaweedfs_volume_max"),
    ("redis_config_dir=opt/redis", "redis", "redis_config_dir"),
    ("kafka_config_dir=kafka", "kafka", "kafka_config_dir"),
]
# An entry with a key that its role's argument specs do not know: the service, the variable,
# its value and the key, which Ansible's own validation names as <variable>.<key>.
MISSPELT_KEYS = [
    ("kafka", "kafka_topics", [{"name": "t", "partitons": 3}], "partitons"),
    ("kafka", "kafka_extra_topics", [{"name": "t", "replication": 3}], "replication"),
    ("vault", "vault_seed_mounts", [{"path": "x", "typ": "kv"}], "typ"),
    ("vault", "vault_seed_policies", [{"name": "x", "rulez": "y"}], "rulez"),
    ("vault", "vault_seed_approles", [{"name": "a", "token_policy": ["x"]}], "token_policy"),
    ("vault", "vault_seed_extra_secrets", [{"mount": "secret", "path": "a", "dat": {}}], "dat"),
    ("alertmanager", "alertmanager_route", {"reciever": "x"}, "reciever"),
    ("alertmanager", "alertmanager_receivers", [{"name": "a", "webhok_configs": []}], "webhok_configs"),
    ("prometheus", "prometheus_scrape_configs_extra", [{"job_name": "j", "static_config": []}], "static_config"),
]
# Play name -> (the services checked, the play's variables).
CASES = (
    {"no bad input": (None, {})}
    | {f"bad {extra}": ([service], dict([extra.split("=", 1)])) for extra, service, _ in BAD_VARIABLES}
    | {f"misspelt {named}": ([service], {named: value}) for service, named, value, _ in MISSPELT_KEYS}
)


def failure_messages(run):
    """What the failed tasks said (the run's events), and nothing else: a variable's name that
    only shows in a loop label of a passing task does not count."""
    return "\n".join(run.failures())


def case_playbook(path):
    """A play per case, each importing site.yml's checks in a block that is rescued, so that the
    next play runs (a failed host would sit out the rest of the run)."""
    plays = []
    for name, (services, variables) in CASES.items():
        deployed = services or "{{ stack_services | map(attribute='name') | list }}"
        plays.append({
            "name": name,
            "hosts": "all",
            "gather_facts": True,
            "gather_subset": ["min", "network"],
            "vars_files": [str(ROOT / "playbooks/group_vars/all/services.yml")],
            "vars": {
                "site_deployed": deployed,
                "site_tagged": services or [],
                "site_host_deployed": "{{ site_deployed | select('in', group_names) | list }}",
                **variables,
            },
            "tasks": [{
                "name": "Checks of site.yml's first play",
                "block": [{"ansible.builtin.import_tasks": str(ROOT / "playbooks/tasks/validate.yml")}],
                "rescue": [{"name": "Stopped at the first error", "ansible.builtin.meta": "noop"}],
            }],
        })  # fmt: skip
    path.write_text(yaml.safe_dump(plays, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def case_failures(tmp_path_factory):
    """Play name -> the messages of the tasks that failed in it."""
    playbook = case_playbook(tmp_path_factory.mktemp("preflight-cases") / "cases.yml")
    run = run_playbook(os.path.relpath(playbook, ROOT / "playbooks"))
    assert run.rc == 0, run.output[-3000:]
    found, play = {}, None
    for event in run.events:
        if event["event"] == "play":
            play = event["name"]
            found[play] = []
        elif event["event"] == "task" and event["status"] == "failed":
            found[play].append(event.get("msg", ""))
    assert list(found) == list(CASES)
    return found


def test_the_inventory_without_a_bad_input_passes_every_check(case_failures):
    assert case_failures["no bad input"] == []


@pytest.mark.parametrize(("extra_var", "service", "named"), BAD_VARIABLES, ids=[case[0] for case in BAD_VARIABLES])
def test_bad_variable_is_named(case_failures, extra_var, service, named):
    messages = case_failures[f"bad {extra_var}"]
    assert len(messages) == 1 and named in messages[0], messages


@pytest.mark.parametrize(
    ("service", "named", "value", "bad_key"), MISSPELT_KEYS, ids=[case[1] for case in MISSPELT_KEYS]
)
def test_misspelt_key_in_an_entry_is_named(case_failures, service, named, value, bad_key):
    # The role's argument specs describe the keys of each entry, so Ansible's own validation
    # refuses one it does not know, naming the variable and the key.
    messages = case_failures[f"misspelt {named}"]
    assert len(messages) == 1 and f"{named}.{bad_key}" in messages[0], messages


def assert_stopped_before_any_change(run):
    assert run.rc != 0
    assert run.changed() == 0, run.changed_tasks()
    # The first play validates every role; the play that changes hosts never starts.
    assert run.plays()[0] == "Validate every input before anything changes"
    assert "Deploy" not in run.plays()


def test_bad_variable_stops_site_before_any_change(playbook):
    run = playbook("site.yml", "-e", "redis_port=70000")
    assert "redis_port" in failure_messages(run), run.output[-3000:]
    assert_stopped_before_any_change(run)


def test_misspelt_key_stops_the_service_playbook_before_any_change(playbook):
    run = playbook("vault.yml", "-e", json.dumps({"vault_seed_policies": [{"name": "x", "rulez": "y"}]}))
    assert "vault_seed_policies.rulez" in failure_messages(run), run.output[-3000:]
    assert_stopped_before_any_change(run)


def test_two_services_publishing_one_port_fail_naming_both(playbook):
    run = playbook("site.yml", "-e", "kafka_ui_port=6379")
    assert "kafka_ui_port and redis_port are both 6379" in failure_messages(run), run.output[-3000:]
    assert_stopped_before_any_change(run)


def test_bad_application_database_entry_is_named(playbook):
    run = playbook("postgres.yml", "-e", '{"postgres_app_databases": [{"name": "Bad-Name", "user": "x"}]}')
    assert "postgres_app_databases" in failure_messages(run), run.output[-3000:]
    assert_stopped_before_any_change(run)


@pytest.mark.parametrize(
    ("settings", "service", "named"),
    [
        # No public image of the reference application exists: a pull cannot supply it.
        ({"stack_image_source": "pull"}, "celery_worker", "celery_app_image"),
        # Kafka UI has no recipe: a build cannot supply it.
        ({"stack_image_source": "build"}, "kafka_ui", "mirror ghcr.io/kafbat/kafka-ui"),
    ],
)
def test_a_service_whose_image_no_route_supplies_is_refused_first(playbook, settings, service, named):
    # Without leave to skip such services, the run stops in its first play, before any service
    # before this one is deployed, naming what to set.
    settings = dict(settings, stack_skip_services_without_image=False)
    run = playbook("site.yml", "--tags", service, "-e", json.dumps(settings))
    message = failure_messages(run)
    assert f"No image for {service} can be had with stack_image_source={settings['stack_image_source']}" in message
    assert named in message
    assert_stopped_before_any_change(run)
