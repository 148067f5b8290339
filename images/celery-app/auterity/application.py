"""The Celery application: settings from the environment, passwords from Vault, the reliability
settings every deployment keeps, and the beat schedule (kept in Redis by celery-redbeat)."""

import logging
from urllib.parse import quote

from celery import Celery, signals

from auterity import tracing, vault
from auterity.config import ConfigError, Settings
from auterity.events import EventPublisher

log = logging.getLogger(__name__)

HEARTBEAT_ENTRY = "auterity-heartbeat"
RESULT_EXPIRES_SECONDS = 7 * 24 * 3600


def redis_url(settings, secrets, db):
    host = settings.redis_host or secrets.redis_host
    port = settings.redis_port or secrets.redis_port or 6379
    if not host:
        raise ConfigError(
            "AUTERITY_REDIS_HOST is not set and the Redis secret in Vault (AUTERITY_VAULT_REDIS_PATH) has no host"
        )
    return f"redis://:{quote(secrets.redis_password, safe='')}@{host}:{port}/{db}"


def celery_config(settings, secrets):
    transport_options = {"visibility_timeout": settings.visibility_timeout}
    heartbeat = settings.beat_heartbeat_seconds
    return {
        "broker_url": redis_url(settings, secrets, settings.redis_broker_db),
        "result_backend": redis_url(settings, secrets, settings.redis_result_db),
        # A task not acknowledged within the visibility timeout is delivered again: it must be
        # longer than the longest task.
        "broker_transport_options": transport_options,
        "result_backend_transport_options": transport_options,
        "broker_connection_retry_on_startup": True,
        # A task is acknowledged after it ran, and given back to the queue when its worker
        # process dies, so that a killed worker loses no task.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        # A stopping worker lets running tasks finish for this long before it gives them back.
        # An idle worker stops at once: the application schedules no ETA tasks, which are
        # what a soft shutdown of an idle worker would requeue.
        "worker_soft_shutdown_timeout": settings.soft_shutdown_seconds,
        "worker_enable_soft_shutdown_on_idle": False,
        "worker_max_tasks_per_child": settings.max_tasks_per_child,
        # Flower follows tasks through these events.
        "task_track_started": True,
        "worker_send_task_events": True,
        "task_send_sent_event": True,
        "result_expires": RESULT_EXPIRES_SECONDS,
        "result_extended": True,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "timezone": "UTC",
        "enable_utc": True,
        # celery-redbeat: the schedule and the lock that lets one scheduler run at a time.
        "redbeat_redis_url": redis_url(settings, secrets, settings.redis_broker_db),
        "redbeat_lock_timeout": settings.redbeat_lock_timeout,
        # Beat wakes at least this often, renewing its lock each time, well within the lock timeout.
        "beat_max_loop_interval": max(1, min(heartbeat, settings.redbeat_lock_timeout / 5)),
        "beat_schedule": {
            HEARTBEAT_ENTRY: {"task": "auterity.heartbeat", "schedule": heartbeat},
        },
    }


settings = Settings.from_env()
_secrets = vault.read_secrets(settings)
app = Celery("auterity", include=["auterity.tasks"])
app.conf.update(celery_config(settings, _secrets))
events = EventPublisher(settings, _secrets)
tracing.connect()


@signals.worker_process_shutdown.connect(weak=False)
def _close_events(**_):
    events.close()
