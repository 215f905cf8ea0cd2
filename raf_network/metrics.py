"""Prometheus metrics: request counts and latency by endpoint, response-cache results, queue depth, and
push and webhook outcomes (read from their durable records at scrape time, so every process agrees).

Under gunicorn with several workers, set ``PROMETHEUS_MULTIPROC_DIR`` (gunicorn.conf.py does) so a scrape
sums all workers.
"""
import os
import time

from flask import current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

REQUESTS = Counter("raf_http_requests_total", "HTTP requests", ["method", "endpoint", "status"])
LATENCY = Histogram(
    "raf_http_request_duration_seconds", "HTTP request latency", ["method", "endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
CACHE_RESULTS = Counter("raf_response_cache_total", "Catalogue response cache lookups by result", ["result"])



def request_started():
    g.request_started = time.perf_counter()


def request_finished(response):
    started = g.pop("request_started", None)
    if started is not None:
        endpoint = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
        LATENCY.labels(request.method, endpoint).observe(time.perf_counter() - started)
        REQUESTS.labels(request.method, endpoint, str(response.status_code)).inc()
    return response


def cache_result_count(result):
    CACHE_RESULTS.labels(result).inc()


def _queue_depth():
    family = GaugeMetricFamily("raf_queue_depth", "Jobs waiting per RQ queue", labels=["queue"])
    if current_app.config["REDIS_URL"] and not current_app.config["JOBS_INLINE"]:
        from raf_network.jobs import QUEUES, queue_get

        for name in QUEUES:
            try:
                family.add_metric([name], queue_get(name).count)
            except Exception:  # Redis down: the gauge is simply absent, the scrape still works
                return []
    return [family]


class _ScrapeCollector:
    def collect(self):
        yield from _queue_depth()
        # Outcome totals owned by the blueprints (webhook deliveries, pushes), read from their records.
        for collector in current_app.extensions.get("metrics_collectors", ()):
            try:
                yield from collector()
            except Exception:  # the database is down: those families are absent, the scrape still works
                current_app.logger.warning("metrics collector %s failed", collector.__name__, exc_info=True)


def metrics_exposition():
    """The Prometheus text exposition for this process (or, in multiprocess mode, all workers)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    scrape = CollectorRegistry()
    scrape.register(_ScrapeCollector())
    return generate_latest(registry) + generate_latest(scrape), CONTENT_TYPE_LATEST
