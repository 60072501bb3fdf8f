"""Prometheus metrics: HTTP requests and latencies; queue depth and jobs by state from Redis."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from redis.exceptions import RedisError
from rq import Queue


class QueueCollector(Collector):
    """Reads the queue's registries at scrape time, so the numbers are never stale."""

    def __init__(self, queue: Queue) -> None:
        self.queue = queue

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily("dfdetect_queue_depth", "Jobs waiting in the queue.")
        jobs = GaugeMetricFamily("dfdetect_jobs", "Jobs by state.", labels=["state"])
        up = GaugeMetricFamily("dfdetect_redis_up", "1 when Redis answered the scrape.")
        try:
            q = self.queue
            depth.add_metric([], q.count)
            jobs.add_metric(["queued"], q.count)
            jobs.add_metric(["started"], q.started_job_registry.count)
            jobs.add_metric(["finished"], q.finished_job_registry.count)
            jobs.add_metric(["failed"], q.failed_job_registry.count)
            jobs.add_metric(["canceled"], q.canceled_job_registry.count)
            up.add_metric([], 1)
        except RedisError:
            up.add_metric([], 0)
            yield up
            return
        yield from (depth, jobs, up)


class Metrics:
    """One registry per app, so tests can build many apps in one process."""

    def __init__(self, queue: Queue) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "dfdetect_http_requests",
            "HTTP requests by route, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "dfdetect_http_request_duration_seconds",
            "HTTP request latency by route.",
            ["route", "method"],
            registry=self.registry,
        )
        self.registry.register(QueueCollector(queue))
