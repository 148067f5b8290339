"""kafka_topic over the broker's SASL_SSL listener (SASL PLAIN, a certificate from a test CA)."""

import kafka_broker
import pytest


@pytest.fixture
def secure(broker):
    """The module options that reach the SASL_SSL listener, CA given as PEM content."""
    return {
        "bootstrap_servers": [broker.secure_bootstrap],
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "PLAIN",
        "sasl_username": kafka_broker.SASL_USER,
        "sasl_password": kafka_broker.SASL_PASSWORD,
        "ssl_ca_content": broker.pki.ca_pem,
    }


def test_sasl_ssl_with_ca_content_then_ca_file(kafka_topic, topic_state, secure, uid, tmp_path):
    name = f"{uid}-secure"
    run = kafka_topic(**secure, topics=[{"name": name, "partitions": 2}], verbose=True)
    assert not run.failed, run.output
    assert run.result["created"] == [name]
    assert topic_state(name) == (2, 1, {})
    assert kafka_broker.SASL_PASSWORD not in run.output

    ca_file = tmp_path / "ca.pem"
    ca_file.write_text(secure.pop("ssl_ca_content"))
    again = kafka_topic(**secure, ssl_cafile=str(ca_file), topics=[{"name": name, "partitions": 2}])
    assert not again.failed, again.output
    assert not again.changed


def test_wrong_password_fails_saying_so(kafka_topic, topic_state, secure, uid):
    secure["sasl_password"] = "not-the-password"
    # How soon the refused login ends the run (it is not retried until the timeout) is measured
    # by tests/benchmarks/bench_kafka_topic.py, not asserted here.
    run = kafka_topic(**secure, timeout=90, topics=[{"name": f"{uid}-denied"}])
    assert run.failed
    assert "Authentication failed" in run.result["msg"] or "SaslAuthenticationFailed" in run.result["msg"]
    assert topic_state(f"{uid}-denied") is None


def test_unknown_certificate_authority_is_refused(kafka_topic, topic_state, secure, uid):
    secure.pop("ssl_ca_content")  # the system trust store does not know the test CA
    run = kafka_topic(**secure, timeout=5, topics=[{"name": f"{uid}-untrusted"}])
    assert run.failed
    assert secure["bootstrap_servers"][0] in run.result["msg"]
    assert "CERTIFICATE_VERIFY_FAILED" in run.result["msg"] or "certificate verify failed" in run.result["msg"]
    assert topic_state(f"{uid}-untrusted") is None


def test_sasl_without_credentials_is_refused_by_the_module(kafka_topic, secure, uid):
    del secure["sasl_password"]
    run = kafka_topic(**secure, topics=[{"name": f"{uid}-x"}])
    assert run.failed
    assert "sasl_password" in run.result["msg"]
