"""Events to Kafka: JSON values, keyed (by workflow id) so that one workflow's events keep their
order in one partition.

A send waits for the broker's acknowledgement (acks=all), so a task that has published has
published for good before Celery acknowledges the task itself (task_acks_late).
"""

import datetime
import json
import os
import ssl
import threading
import warnings

with warnings.catch_warnings():
    # kafka-python 3.0 reads its protocol schemas through importlib.resources calls that newer
    # Pythons deprecate; the warnings are about the library, not about this application.
    warnings.filterwarnings("ignore", r"(read|open)_text is deprecated", DeprecationWarning)
    from kafka import KafkaProducer

SEND_TIMEOUT_SECONDS = 30


def now():
    """The time in ISO 8601, UTC."""
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class EventPublisher:
    """One Kafka producer per process, made on first use: a prefork worker's children must not
    share the parent's sockets, so each child makes its own."""

    def __init__(self, settings, secrets):
        self._settings = settings
        self._secrets = secrets
        self._producer = None
        self._pid = None
        self._lock = threading.Lock()

    def connection_options(self):
        """How to reach the brokers (servers, TLS, SASL login): kafka-python's settings that a
        producer and a consumer of the application's topics share."""
        settings, secrets = self._settings, self._secrets
        options = {"bootstrap_servers": list(settings.kafka_bootstrap)}
        if settings.kafka_security_protocol == "SASL_SSL":
            options.update(
                security_protocol="SASL_SSL",
                ssl_context=ssl.create_default_context(cafile=settings.kafka_ca_file or None),
                sasl_mechanism=secrets.kafka_mechanism,
                sasl_plain_username=secrets.kafka_username,
                sasl_plain_password=secrets.kafka_password,
            )
        return options

    def _producer_options(self):
        return {
            **self.connection_options(),
            "client_id": f"auterity-{os.uname().nodename}",
            "acks": "all",
            "retries": 5,
        }

    def producer(self):
        with self._lock:
            if self._producer is None or self._pid != os.getpid():
                self._producer = KafkaProducer(**self._producer_options())
                self._pid = os.getpid()
            return self._producer

    def publish(self, topic, key, event):
        """Send one event and wait until Kafka has it; the event gets its `ts` here."""
        event = {**event, "ts": now()}
        value = json.dumps(event, separators=(",", ":")).encode()
        self.producer().send(topic, key=key.encode(), value=value).get(timeout=SEND_TIMEOUT_SECONDS)
        return event

    def close(self):
        with self._lock:
            if self._producer is not None and self._pid == os.getpid():
                self._producer.close(timeout=10)
            self._producer = None
