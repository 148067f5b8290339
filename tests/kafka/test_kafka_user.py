"""kafka_user against the session's broker: SCRAM users created, kept, deleted, and used to log
in on the broker's SASL_SSL listener."""

import ssl

import pytest
from kafka import KafkaAdminClient
from kafka.errors import KafkaError


def scram_login(broker, user, password):
    """True when the SASL_SSL listener accepts the user's SCRAM-SHA-512 login."""
    context = ssl.create_default_context(cadata=broker.pki.ca_pem)
    try:
        client = KafkaAdminClient(
            bootstrap_servers=[broker.secure_bootstrap],
            security_protocol="SASL_SSL",
            sasl_mechanism="SCRAM-SHA-512",
            sasl_plain_username=user,
            sasl_plain_password=password,
            ssl_context=context,
            bootstrap_timeout_ms=10_000,
        )
    except KafkaError:
        return False
    client.close()
    return True


def holders(admin, names):
    described = admin.describe_user_scram_credentials(names)
    return sorted(name for name, info in described.items() if not info.get("error") and info["credential_infos"])


@pytest.fixture
def user(uid):
    return {"name": f"{uid}-app", "password": f"pw-{uid}-0123456789"}


def test_create_then_log_in_then_nothing_to_do(kafka_user, broker, admin, user):
    run = kafka_user(users=[user], verbose=True)
    assert not run.failed, run.output
    assert run.changed
    assert run.result["users"] == {user["name"]: "created"}
    assert user["password"] not in run.output
    assert holders(admin, [user["name"]]) == [user["name"]]
    assert scram_login(broker, user["name"], user["password"])
    assert not scram_login(broker, user["name"], "not-the-password")

    again = kafka_user(users=[user])
    assert not again.failed, again.output
    assert not again.changed
    assert again.result["users"] == {user["name"]: "unchanged"}


def test_check_mode_and_diff_change_nothing(kafka_user, admin, user):
    run = kafka_user(users=[user], check=True, diff=True)
    assert not run.failed, run.output
    assert run.changed
    assert run.result["diff"] == {"before": {"users": []}, "after": {"users": [user["name"]]}}
    assert holders(admin, [user["name"]]) == []


def test_update_password_always_sets_the_new_password(kafka_user, broker, user):
    assert not kafka_user(users=[user]).failed
    rotated = dict(user, password=user["password"] + "-rotated")
    run = kafka_user(users=[rotated], update_password="always")
    assert not run.failed, run.output
    assert run.result["users"] == {user["name"]: "updated"}
    assert scram_login(broker, user["name"], rotated["password"])
    assert not scram_login(broker, user["name"], user["password"])


def test_absent_deletes_only_the_listed_user(kafka_user, admin, user, uid):
    other = {"name": f"{uid}-other", "password": "other-password-123"}
    assert not kafka_user(users=[user, other]).failed
    run = kafka_user(users=[{"name": user["name"], "state": "absent"}])
    assert not run.failed, run.output
    assert run.result["users"] == {user["name"]: "deleted"}
    assert holders(admin, [user["name"], other["name"]]) == [other["name"]]


def test_bad_declaration_fails_naming_the_user_before_any_change(kafka_user, admin, user, uid):
    missing = {"name": f"{uid}-nopassword"}
    run = kafka_user(users=[user, missing])
    assert run.failed
    assert f"{uid}-nopassword" in run.result["msg"] and "no password" in run.result["msg"]
    assert holders(admin, [user["name"]]) == []


def test_unreachable_cluster_fails_naming_the_servers(kafka_user, user):
    # How long the run waits for the cluster is measured by
    # tests/benchmarks/bench_kafka_topic.py, not asserted here.
    run = kafka_user(users=[user], bootstrap_servers=["127.0.0.1:1"], timeout=5)
    assert run.failed
    assert "127.0.0.1:1" in run.result["msg"]
