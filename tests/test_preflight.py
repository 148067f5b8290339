"""A bad variable stops site.yml with a message that names it, before any host is changed."""

import json

import pytest


def failure_messages(run):
    """What the failed tasks said (the run's events), and nothing else: a variable's name that
    only shows in a loop label of a passing task does not count."""
    return "\n".join(run.failures())


@pytest.mark.parametrize(
    ("extra_var", "named"),
    [
        ("redis_port=notaport", "redis_port"),
        ("redis_port=70000", "redis_port"),
        ("postgres_max_connections=lots", "postgres_max_connections"),
        ("stack_image_source=sideways", "stack_image_source"),
        ("docker_log_max_size=huge", "docker_log_max_size"),
        ("vault_key_threshold=9", "vault_key_threshold"),
        ("vault_distribution=consul", "vault_distribution"),
        ("stack_publish_address=999.1.1.1", "stack_publish_address"),
        ("redis_bind_address=999.1.1.1", "redis_bind_address"),
        ("kafka_log_retention_hours=-5", "kafka_log_retention_hours"),
        ("kafka_stack_topic_partitions=0", "kafka_stack_topic_partitions"),
        ("redis_memory_limit=lots", "redis_memory_limit"),
        ("postgres_port=0", "postgres_port"),
        ("s3_seaweedfs_volume_max=7", "s3_seaweedfs_volume_max"),
        ("redis_config_dir=opt/redis", "redis_config_dir"),
        ("kafka_config_dir=kafka", "kafka_config_dir"),
    ],
)
def test_bad_variable_fails_before_any_change(playbook, extra_var, named):
    run = playbook("site.yml", "-e", extra_var)
    assert run.rc != 0
    assert named in failure_messages(run), run.output[-3000:]
    assert run.changed() == 0, run.changed_tasks()
    # The first play validates every role; the play that changes hosts never starts.
    assert run.plays()[0] == "Validate every input before anything changes"
    assert "Deploy" not in run.plays()


def test_two_services_publishing_one_port_fail_naming_both(playbook):
    run = playbook("site.yml", "-e", "kafka_ui_port=6379")
    assert run.rc != 0
    assert "kafka_ui_port and redis_port are both 6379" in failure_messages(run), run.output[-3000:]
    assert "Deploy" not in run.plays()


def test_bad_application_database_entry_is_named(playbook):
    run = playbook("postgres.yml", "-e", '{"postgres_app_databases": [{"name": "Bad-Name", "user": "x"}]}')
    assert run.rc != 0
    assert "postgres_app_databases" in failure_messages(run), run.output[-3000:]
    assert run.changed() == 0, run.changed_tasks()
    assert "Deploy" not in run.plays()


@pytest.mark.parametrize(
    ("service", "named", "value", "bad_key"),
    [
        ("kafka", "kafka_topics", [{"name": "t", "partitons": 3}], "partitons"),
        ("kafka", "kafka_extra_topics", [{"name": "t", "replication": 3}], "replication"),
        ("vault", "vault_seed_mounts", [{"path": "x", "typ": "kv"}], "typ"),
        ("vault", "vault_seed_policies", [{"name": "x", "rulez": "y"}], "rulez"),
        ("vault", "vault_seed_approles", [{"name": "a", "token_policy": ["x"]}], "token_policy"),
        ("vault", "vault_seed_extra_secrets", [{"mount": "secret", "path": "a", "dat": {}}], "dat"),
        ("alertmanager", "alertmanager_route", {"reciever": "x"}, "reciever"),
        ("alertmanager", "alertmanager_receivers", [{"name": "a", "webhok_configs": []}], "webhok_configs"),
        ("prometheus", "prometheus_scrape_configs_extra", [{"job_name": "j", "static_config": []}], "static_config"),
    ],
    ids=lambda param: param if isinstance(param, str) else None,
)
def test_misspelt_key_in_an_entry_is_named(playbook, service, named, value, bad_key):
    # The role's argument specs describe the keys of each entry, so Ansible's own validation
    # refuses one it does not know, naming the variable and the key.
    run = playbook(f"{service}.yml", "-e", json.dumps({named: value}))
    assert run.rc != 0
    assert f"{named}.{bad_key}" in failure_messages(run), run.output[-3000:]
    assert run.changed() == 0, run.changed_tasks()
    assert "Deploy" not in run.plays()


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
    assert run.rc != 0
    message = failure_messages(run)
    assert f"No image for {service} can be had with stack_image_source={settings['stack_image_source']}" in message
    assert named in message
    assert run.changed() == 0, run.changed_tasks()
    assert "Deploy" not in run.plays()
