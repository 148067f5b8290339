"""A bad variable stops site.yml with a message that names it, before any host is changed."""

import pytest


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
    ],
)
def test_bad_variable_fails_before_any_change(playbook, extra_var, named):
    run = playbook("site.yml", "-e", extra_var)
    assert run.rc != 0
    assert named in run.output
    assert run.changed() == 0
    # The first play validates every role; no later play (which would change hosts) starts.
    assert "PLAY [Docker Engine on every host]" not in run.output


def test_bad_application_database_entry_is_named(playbook):
    run = playbook("postgres.yml", "-e", '{"postgres_app_databases": [{"name": "Bad-Name", "user": "x"}]}')
    assert run.rc != 0
    assert "postgres_app_databases" in run.output
    assert run.changed() == 0
