"""Kafka helpers the scenarios' testinfra checks share: a real client through the advertised
listener, and waits on the broker containers."""

import ssl
import time
import uuid

from kafka import KafkaConsumer, KafkaProducer


def server_properties(host):
    return dict(
        line.split("=", 1)
        for line in host.file("/opt/auterity/kafka/server.properties").content_string.splitlines()
        if "=" in line and not line.startswith("#")
    )


def advertised_listener(host, name="CLIENT"):
    """host:port that the broker on `host` advertises for its listener `name`."""
    listeners = dict(entry.split("://") for entry in server_properties(host)["advertised.listeners"].split(","))
    return listeners[name]


def advertised_client_listener(host):
    return advertised_listener(host, "CLIENT")


def scram_settings(credentials, user):
    """kafka-python settings for the stack's SASL listener: the user's generated password over
    TLS, trusting the generated CA (both in the credentials directory)."""
    return {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": user,
        "sasl_plain_password": (credentials / f"kafka_sasl_{user}_password").read_text().strip(),
        "ssl_context": ssl.create_default_context(cafile=str(credentials / "kafka_tls/ca.crt")),
    }


def wait_healthy(host, name="kafka", timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if host.run(f"docker inspect -f '{{{{.State.Health.Status}}}}' {name}").stdout.strip() == "healthy":
            return
        time.sleep(2)
    raise AssertionError(f"{name} did not become healthy")


def produce(bootstrap, topic, value, **settings):
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", **settings)
    try:
        producer.send(topic, value.encode()).get(timeout=60)
    finally:
        producer.close()


def consume_all(bootstrap, topic, timeout=30, until=None, **settings):
    """The topic's messages from the earliest, until none came for `timeout` seconds, or as
    soon as `until` is found among them (a value, or a function of the values so far that says
    when they are enough): a check that finds what it looks for does not wait out the timeout."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"check-{uuid.uuid4()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=timeout * 1000,
        **settings,
    )
    enough = until if callable(until) else (lambda values: until is not None and values[-1] == until)
    values = []
    try:
        for message in consumer:
            values.append(message.value.decode())
            if enough(values):
                break
        return values
    finally:
        consumer.close()
