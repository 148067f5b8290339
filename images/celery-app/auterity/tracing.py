"""OpenTelemetry traces of Celery tasks, exported over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT
(no endpoint: no tracing). The SDK reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES itself.

Each prefork child sets up its own exporter (worker_process_init): the exporter's thread does
not survive the fork. A chain's next task is sent from inside the previous one, so the trace
context travels in the message headers and a workflow is one trace with a span per step.
"""

import logging
import os

from celery import signals
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.celery import CeleryInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

log = logging.getLogger(__name__)
_provider = None


def enabled():
    return bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip())


def start():
    global _provider  # noqa: PLW0603 - one tracer provider per process
    if _provider is not None or not enabled():
        return
    _provider = TracerProvider(resource=Resource.create())
    _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(_provider)
    CeleryInstrumentor().instrument(tracer_provider=_provider)
    log.info("tracing to %s", os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"])


def stop():
    if _provider is not None:
        _provider.shutdown()


def connect():
    """Hook tracing into the worker's children, a worker without children, and beat."""
    signals.worker_process_init.connect(lambda **_: start(), weak=False)
    signals.worker_process_shutdown.connect(lambda **_: stop(), weak=False)

    def worker_without_children(sender=None, **_):
        # The solo and threads pools run tasks in the main process, which has no
        # worker_process_init; prefork sets up in each child instead.
        if "prefork" not in str(getattr(sender, "pool_cls", "prefork")).lower():
            start()

    signals.worker_init.connect(worker_without_children, weak=False)
    signals.beat_init.connect(lambda **_: start(), weak=False)
    signals.worker_shutdown.connect(lambda **_: stop(), weak=False)
