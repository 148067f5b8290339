"""Proof that the deployed queue processes workflows, run inside a worker container (its
settings, its Vault login): a two-step workflow goes through the broker to the workers, and its
events are read back from Kafka. Prints one JSON document: the workflow's result, the events
read back and where the application's secrets came from."""

import json
import time
import uuid

from auterity.application import app, events, settings
from kafka import KafkaConsumer

STEPS = [{"name": "extract", "action": "echo", "seconds": 0}, {"name": "load", "action": "echo", "seconds": 0}]
TIMEOUT_SECONDS = 120

workflow_id = f"verify-{uuid.uuid4().hex[:12]}"
sent = app.send_task("auterity.run_workflow", args=[workflow_id, STEPS])
result = sent.get(timeout=TIMEOUT_SECONDS)

consumer = KafkaConsumer(
    settings.topic_workflow,
    auto_offset_reset="earliest",
    enable_auto_commit=False,
    consumer_timeout_ms=2000,
    **events.connection_options(),
)
found = []
deadline = time.monotonic() + 60
while time.monotonic() < deadline and not any(
    event.startswith("workflow.") and event != "workflow.started" for event in found
):
    found += [json.loads(message.value)["event"] for message in consumer if message.key == workflow_id.encode()]
consumer.close()

print(
    json.dumps(
        {
            "workflow_id": workflow_id,
            "task_id": sent.id,
            "result": result,
            "events": found,
            "topic": settings.topic_workflow,
            "vault": {
                "addr": settings.vault_addr,
                "paths": [p for p in (settings.vault_redis_path, settings.vault_kafka_path) if p],
            },
        }
    )
)
