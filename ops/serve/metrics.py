"""Prometheus metrics of `footfall serve` (prometheus_client, one registry per serve).

Projection figures are read from the runners when scraped (a collector), so folding pays nothing for
them: lag behind the stream's end in messages and in seconds (the age of the oldest message not yet
folded), events, batches and the seconds batches took (a summary: rate of sum over rate of count is the
mean batch latency), dead-lettered messages. Queries are counted as they are answered: latency by user,
errors by ClickHouse exception name, queries running now.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.registry import Collector


@dataclass(frozen=True)
class ProjectionFigures:
    """One projection's position and totals when scraped."""

    name: str
    lag_messages: int
    lag_s: float
    events: int
    batches: int
    batch_s: float
    dead_lettered: int


class _ProjectionCollector(Collector):
    def __init__(self, read: Callable[[], list[ProjectionFigures]]) -> None:
        self._read = read

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily | SummaryMetricFamily]:
        figures = self._read()
        lag = GaugeMetricFamily("footfall_projection_lag_messages", "Messages on the stream not yet folded",
                                labels=["projection"])  # fmt: skip
        lag_s = GaugeMetricFamily("footfall_projection_lag_seconds",
                                  "Age of the oldest message not yet folded (0 when caught up)",
                                  labels=["projection"])  # fmt: skip
        events = CounterMetricFamily("footfall_projection_events", "Events folded since start", labels=["projection"])
        batches = SummaryMetricFamily("footfall_projection_batch_seconds", "Seconds each batch took to fold and store",
                                      labels=["projection"])  # fmt: skip
        dlq = CounterMetricFamily("footfall_projection_dead_lettered", "Messages sent to the DLQ since start",
                                  labels=["projection"])  # fmt: skip
        for f in figures:
            lag.add_metric([f.name], f.lag_messages)
            lag_s.add_metric([f.name], f.lag_s)
            events.add_metric([f.name], f.events)
            batches.add_metric([f.name], count_value=f.batches, sum_value=f.batch_s)
            dlq.add_metric([f.name], f.dead_lettered)
        yield from (lag, lag_s, events, batches, dlq)


class ServeMetrics:
    """The registry and the query metrics; `watch_projections` adds the projections' collector."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.query_seconds = Histogram(
            "footfall_query_seconds", "SQL query latency, from request to answer", ["user"], registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30),
        )  # fmt: skip
        self.query_errors = Counter("footfall_query_errors", "SQL queries refused or failed", ["user", "error"],
                                    registry=self.registry)  # fmt: skip
        self.running = Gauge("footfall_queries_running", "SQL queries running now", registry=self.registry)
        self.started = Gauge("footfall_start_time_seconds", "When serve started (Unix time)", registry=self.registry)
        self.started.set(dt.datetime.now(dt.UTC).timestamp())

    def watch_projections(self, read: Callable[[], list[ProjectionFigures]]) -> None:
        self.registry.register(_ProjectionCollector(read))

    def query_done(self, user: str, seconds: float, error: str | None) -> None:
        self.query_seconds.labels(user).observe(seconds)
        if error is not None:
            self.query_errors.labels(user, error).inc()
