"""Write to a topic with acks=all until a stop file appears, then report what was acknowledged.

side_effect.yml runs it in the background while a configuration change rolls through the
cluster; verify reads the report and checks that every write was acknowledged and can be
read back. Meanwhile it watches the topic's in-sync replicas once a second: the most replicas
of one partition ever out of sync at once shows whether brokers restarted one at a time.
"""

import argparse
import json
import pathlib
import threading
import time
import uuid

from kafka import KafkaAdminClient, KafkaProducer
from kafka.errors import KafkaError


def watch_isr(bootstrap, topic, stop, seen):
    """Until `stop` is set: seen["max_out_of_sync"] = the most replicas of one partition ever
    missing from its ISR; seen["samples"] = how many reads succeeded."""
    admin = None
    while not stop.wait(1.0):
        try:
            admin = admin or KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
            (described,) = admin.describe_topics([topic])
        except KafkaError:
            # A broker on its way down: reconnect through the others on the next read.
            if admin:
                admin.close()
            admin = None
            continue
        for partition in described["partitions"]:
            missing = len(partition["replica_nodes"]) - len(partition["isr_nodes"])
            seen["max_out_of_sync"] = max(seen["max_out_of_sync"], missing)
        seen["samples"] += 1
    if admin:
        admin.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True, help="comma-separated host:port list")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--stop-file", required=True, type=pathlib.Path)
    parser.add_argument("--report", required=True, type=pathlib.Path)
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between writes")
    parser.add_argument("--max-seconds", type=float, default=1500)
    args = parser.parse_args()

    run = uuid.uuid4().hex
    acked, failed = [], []
    producer = KafkaProducer(
        bootstrap_servers=args.bootstrap.split(","),
        acks="all",
        # A write may wait out a leader moving to another broker; two minutes is Kafka's default.
        delivery_timeout_ms=120_000,
        request_timeout_ms=15_000,
    )
    stop, seen = threading.Event(), {"max_out_of_sync": 0, "samples": 0}
    watcher = threading.Thread(target=watch_isr, args=(args.bootstrap.split(","), args.topic, stop, seen))
    watcher.start()
    started_at = time.time()
    started = time.monotonic()
    sent = 0
    while not args.stop_file.exists() and time.monotonic() - started < args.max_seconds:
        future = producer.send(args.topic, f"{run}:{sent}".encode())
        future.add_callback(lambda _metadata, seq=sent: acked.append(seq))
        future.add_errback(lambda error, seq=sent: failed.append([seq, repr(error)]))
        sent += 1
        time.sleep(args.interval)
    producer.flush(timeout=150)
    producer.close(timeout=30)
    stop.set()
    watcher.join()
    args.report.write_text(
        json.dumps(
            {
                "run": run,
                "topic": args.topic,
                "started_at": started_at,
                "seconds": round(time.monotonic() - started, 1),
                "sent": sent,
                "acked": sorted(acked),
                "failed": failed,
                **seen,
            }
        )
    )


if __name__ == "__main__":
    main()
