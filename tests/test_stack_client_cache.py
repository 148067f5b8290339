"""The stack_client lookup keeps each rendering for the rest of the run, under a digest of every
variable the rendering reads. These check that digest and the run's cache directly (no host,
no playbook): a rendering comes back only while every value it read, directly or through
another variable, is the same."""

import importlib.util

import pytest
from project import ROOT

spec = importlib.util.spec_from_file_location("stack_client", ROOT / "plugins/lookup/stack_client.py")
stack_client = importlib.util.module_from_spec(spec)
spec.loader.exec_module(stack_client)

CLIENTS = {"url": "redis://{{ redis_container_name }}:{{ redis_port }}", "user": "default"}
CONTEXT = {
    "redis_container_name": "redis",
    "redis_port": "{{ stack_port_base | int + 379 }}",
    "stack_port_base": 6000,
    "unrelated": "a",
}


def digest(context, templates=CLIENTS):
    return stack_client.inputs_digest(templates, context)


def test_same_values_same_digest_and_an_unread_variable_does_not_count():
    assert digest(CONTEXT) is not None
    assert digest(CONTEXT) == digest(dict(CONTEXT, unrelated="b"))


@pytest.mark.parametrize(
    "change",
    [
        {"redis_port": 6390},  # read directly
        {"stack_port_base": 7000},  # read through redis_port
        {"redis_container_name": "cache"},
    ],
)
def test_a_changed_value_read_directly_or_through_another_variable_changes_the_digest(change):
    assert digest(dict(CONTEXT, **change)) != digest(CONTEXT)


def test_a_variable_defined_later_changes_the_digest():
    context = {key: value for key, value in CONTEXT.items() if key != "stack_port_base"}
    assert digest(context) != digest(CONTEXT)


@pytest.mark.parametrize(
    "template",
    [
        "{{ lookup('ansible.builtin.env', 'HOME') }}",
        "{{ query('ansible.builtin.file', 'x') }}",
        "{{ hostvars['node1'].ansible_host }}",
        "{{ now() }}",
    ],
)
def test_a_rendering_that_reads_more_than_variables_is_never_kept(template):
    assert digest(dict(CONTEXT, redis_port=template)) is None


def test_a_value_with_no_plain_form_is_never_kept():
    assert digest(dict(CONTEXT, stack_port_base=object())) is None


def test_the_cache_returns_only_what_was_kept_under_that_digest(tmp_path, monkeypatch):
    monkeypatch.setattr(stack_client, "RUN_CACHE_DIR", tmp_path / "stack_client")
    rendered = {"settings": {"url": "redis://redis:6379"}, "enabled": True}
    assert stack_client.run_cache_get("redis", "node1", "k1") is None
    stack_client.run_cache_put("redis", "node1", "k1", rendered)
    assert stack_client.run_cache_get("redis", "node1", "k1") == rendered
    assert stack_client.run_cache_get("redis", "node1", "k2") is None
    assert stack_client.run_cache_get("redis", "node2", "k1") is None
    # No digest, nothing kept or found.
    stack_client.run_cache_put("redis", "node1", None, {"other": 1})
    assert stack_client.run_cache_get("redis", "node1", None) is None
    # The newest entries of one service on one host are kept, the oldest dropped.
    for index in range(stack_client.RUN_CACHE_ENTRIES):
        stack_client.run_cache_put("redis", "node1", f"n{index}", {"index": index})
    assert stack_client.run_cache_get("redis", "node1", "k1") is None
    assert stack_client.run_cache_get("redis", "node1", "n0") == {"index": 0}
