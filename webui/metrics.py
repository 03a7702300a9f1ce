"""The operator's Prometheus metrics (`/metrics`): the queue, job and step times, the real-time
factor, failures by kind, the analysis backlog, disk and memory, uploads in flight, workers.

Read from the store at each scrape by a collector of its own registry (nothing is kept in the
web processes, which gunicorn forks); numbers only, never a name or any candidate content.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector

from appliance.platform.clock import to_stamp, utcnow
from appliance.platform.config import ApplianceConfig
from appliance.scheduling.capacity import backlog
from appliance.store import Store
from firmware.health import check_health

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class ApplianceCollector(Collector):
    """Reads the figures from the store when Prometheus scrapes."""

    def __init__(self, store: Store, config: ApplianceConfig) -> None:
        self.store = store
        self.config = config

    def collect(self) -> Iterator[Metric]:
        """Every metric family, freshly read."""
        figures = self.store.metrics
        jobs = GaugeMetricFamily(
            "appliance_jobs",
            "Jobs in the durable queue by state and kind.",
            labels=["state", "kind"],
        )
        for (state, kind), count in sorted(figures.jobs_by_state().items()):
            jobs.add_metric([state, kind], count)
        yield jobs
        runs = SummaryMetricFamily(
            "appliance_job_run_seconds", "Wall time of succeeded job runs by kind.", labels=["kind"]
        )
        for totals in figures.run_totals():
            runs.add_metric([totals.kind], totals.count, totals.seconds)
        yield runs
        outcomes = CounterMetricFamily(
            "appliance_job_runs",
            "Finished job runs by kind and outcome (retry, failed and abandoned are errors).",
            labels=["kind", "outcome"],
        )
        for (kind, outcome), count in sorted(figures.run_outcomes().items()):
            outcomes.add_metric([kind, outcome], count)
        yield outcomes
        steps = SummaryMetricFamily(
            "appliance_analysis_step_seconds",
            "Wall time of each analysis step over the succeeded analyses.",
            labels=["step"],
        )
        for step, (count, seconds) in sorted(figures.step_totals().items()):
            steps.add_metric([step], count, seconds)
        yield steps
        factor = figures.realtime_factor()
        if factor is not None:
            yield GaugeMetricFamily(
                "appliance_analysis_realtime_factor",
                "Seconds of recording analysed per wall second (last 50 analyses).",
                value=factor,
            )
        queue = backlog(self.store, self.config)
        yield GaugeMetricFamily(
            "appliance_analysis_backlog_hours",
            "Hours of analysis waiting or expected from links out, at the box's pace.",
            value=queue.hours,
        )
        yield GaugeMetricFamily(
            "appliance_analysis_capacity_hours",
            "The backlog the box takes on before new links open later (worker.capacity_hours).",
            value=queue.capacity_hours,
        )
        flight = GaugeMetricFamily(
            "appliance_uploads_in_flight", "Uploads not finished, by kind.", labels=["kind"]
        )
        for kind, count in sorted(figures.uploads_in_flight().items()):
            flight.add_metric([kind], count)
        yield flight
        since = to_stamp(utcnow() - timedelta(seconds=self.config.worker.stale_after_s))
        yield GaugeMetricFamily(
            "appliance_workers_alive",
            "Worker processes with a recent heartbeat.",
            value=figures.workers_alive(since),
        )
        health = check_health(self.config.data_dir)
        yield GaugeMetricFamily(
            "appliance_disk_free_bytes",
            "Free bytes on the data directory's disk.",
            value=health.disk_free_bytes,
        )
        yield GaugeMetricFamily(
            "appliance_disk_floor_bytes",
            "The free-space floor below which uploads are refused (media.min_free_bytes).",
            value=self.config.media.min_free_bytes,
        )
        yield GaugeMetricFamily(
            "appliance_memory_available_bytes",
            "Memory available to new processes.",
            value=health.memory_available_bytes,
        )


def exposition(store: Store, config: ApplianceConfig) -> bytes:
    """The metrics in Prometheus' text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ApplianceCollector(store, config))
    return generate_latest(registry)


__all__ = ["CONTENT_TYPE", "ApplianceCollector", "exposition"]
