"""`footfall bench serve`: analysts' queries through clickhouse-connect while serve folds a store's log.

One run, as a store runs it: simulate `days` days of a store (the history), publish all but the last to
an embedded nats-server, start `footfall serve` on it (a process of its own, as a user starts it) and
wait until it has folded them. Then, while another process publishes the last day and serve folds it
as it arrives, `clients` threads, each with its own clickhouse-connect client, run the README's analyst
queries round-robin for `seconds`: latency of
every query (p50, p95, p99, max, per query), errors, and how many events serve folded meanwhile.
Afterwards every projection table (count and sum of row hashes) is compared with a clean run:
`footfall project --until-caught-up` over the same log into a fresh store.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from ml_core.sim.agents import ShopperConfig
from ml_core.sim.noise import NO_NOISE, REALISTIC
from ops.simulation.simulate import STORE, T0_NS, SimulatedDay

DAY_NS = 86_400 * 1_000_000_000
# Tables written as partial sums per batch: their rows depend on where batches were cut, their sums not.
_SUMMED = {
    "heatmap": "(SELECT store_id, layout_version, bucket_start, cell_m, cell_x, cell_y, track, "
    "round(sum(presence_s), 6) AS presence_s FROM heatmap GROUP BY ALL)",
}
_INTERNAL_TABLES = ("projection_checkpoints", "projection_versions", "schema_migrations")

# The README's analyst queries (Analytics, "SQL examples"): the whole history, a month, or (the heatmap)
# the first hour of the last day.
ANALYST_QUERIES: dict[str, str] = {
    "footfall_per_hour": "SELECT toStartOfHour(bucket_start) AS hour, sum(entries), sum(exits) FROM footfall_lines "
    "WHERE store_id = '{store}' GROUP BY hour ORDER BY hour",
    "visits_per_day": "SELECT toStartOfInterval(started, INTERVAL 1 DAY) AS day, countIf(NOT is_staff) AS visits, "
    "uniqExactIf(party_id, NOT is_staff) AS group_visits FROM visits WHERE store_id = '{store}' GROUP BY day "
    "ORDER BY day",
    "dwell_per_zone": "SELECT zone_id, count() AS stays, quantileExactInclusive(0.5)(dwell_s) AS median_s, "
    "quantiles(0.1, 0.9)(dwell_s) AS p10_p90 FROM zone_visits WHERE store_id = '{store}' GROUP BY zone_id "
    "ORDER BY zone_id",
    "dwell_bins": "SELECT zone_id, floor(dwell_s / 10) * 10 AS bin_s, count() FROM zone_visits GROUP BY zone_id, "
    "bin_s ORDER BY zone_id, bin_s",
    "transitions": "SELECT from_state, to_state, sum(transitions) AS n FROM zone_transitions WHERE store_id = "
    "'{store}' AND toStartOfMonth(bucket_start) = '{month}' GROUP BY ALL ORDER BY n DESC",
    "funnel": "SELECT stage, count() FROM funnel_visits WHERE store_id = '{store}' GROUP BY stage "
    "ORDER BY any(stage_index)",
    "conversion": "SELECT v.hour, tx, visits, round(tx / visits, 3) AS conversion FROM (SELECT "
    "toStartOfHour(started) AS hour, count() AS visits FROM funnel_visits WHERE store_id = '{store}' GROUP BY "
    "hour) AS v LEFT JOIN (SELECT toStartOfHour(ts) AS hour, count() AS tx FROM pos_transactions WHERE "
    "store_id = '{store}' GROUP BY hour) AS p USING hour ORDER BY v.hour",
    "queue": "SELECT toStartOfFiveMinutes(ts) AS t, max(queue_length), round(avg(est_wait_s), 1) FROM queue_series "
    "WHERE store_id = '{store}' AND zone_id = 'queue' GROUP BY t ORDER BY t",
    "occupancy": "SELECT toStartOfMinute(ts) AS t, max(people) FROM occupancy_series WHERE store_id = '{store}' AND "
    "zone_id = '' GROUP BY t ORDER BY t",
    "heatmap": "SELECT cell_x, cell_y, sum(presence_s) AS seconds FROM shared_heatmap WHERE bucket_start >= "
    "'{hour_start}' AND bucket_start < '{hour_end}' GROUP BY cell_x, cell_y ORDER BY seconds DESC LIMIT 10",
}


@dataclass(frozen=True)
class ServeBenchConfig:
    days: int = 7
    hours: float = 4.0
    parties_per_hour: float = 300.0
    cameras: int = 3
    noise: str = "realistic"
    seed: int = 1
    clients: int = 16
    seconds: float = 60.0
    compare_clean_run: bool = True
    dashboard: bool = True


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def footfall_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "ops.cli", "--log-format", "json", "--log-level", "warning", *args]


def footfall_env() -> dict[str, str]:
    repo = Path(__file__).resolve().parents[2]
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")]))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve_process(
    url: str, data_dir: Path, *args: str, output: int | IO[bytes] | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A `footfall serve` process on the log at `url` and a free loopback port (with `args` after), and that
    port; SIGTERM on exit (killed if it has not drained in 60 s). output: its stdout and stderr (default:
    this process's)."""
    port = free_port()
    command = footfall_command("serve", "--url", url, "--data-dir", str(data_dir), "--listen", f"127.0.0.1:{port}",
                               *args)  # fmt: skip
    stderr = subprocess.STDOUT if output is not None else None
    proc = subprocess.Popen(command, env=footfall_env(), stdout=output, stderr=stderr)
    try:
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise


def simulate_days(config: ServeBenchConfig, days: range) -> list[SimulatedDay]:
    """The simulated days `days` of the bench's store (day d starts d days after T0_NS)."""
    from ops.simulation.simulate import simulate_day

    shopper = ShopperConfig(duration_s=config.hours * 3600.0, parties_per_hour=config.parties_per_hour)
    noise = REALISTIC if config.noise == "realistic" else NO_NOISE
    return [
        # An edge run per day: frame ids (camera:edge_run:frame_seq) would repeat otherwise, and JetStream
        # drops a repeated Nats-Msg-Id as a duplicate.
        simulate_day(
            config.seed + d,
            shopper=shopper,
            noise=noise,
            cameras=config.cameras,
            t0_ns=T0_NS + d * DAY_NS,
            edge_run_id=f"sim-day-{d + 1}",
        )
        for d in days
    ]


async def publish_days(url: str, days: list[SimulatedDay]) -> int:
    """Publish each day to the log; how many messages it stored."""
    import nats

    from ops.simulation.pipeline import publish_day

    stored = 0
    nc = await nats.connect(url, name="footfall-bench-serve")
    try:
        for day in days:
            stored += await publish_day(nc, day)
    finally:
        await nc.close()
    return stored


def _publish_in_child(url: str, config: ServeBenchConfig, day: int, simulated: Any) -> None:
    """Simulate day `day`, set `simulated` (a multiprocessing Event), then publish it."""
    days = simulate_days(config, range(day, day + 1))
    simulated.set()
    asyncio.run(publish_days(url, days))


def _lags(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith(("footfall_projection_lag_messages{", "footfall_projection_events_total{")):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def wait_caught_up(proc: subprocess.Popen[bytes], port: int, timeout_s: float = 3600.0) -> None:
    """Until every lag is 0 and no projection folded anything for three polls a second apart."""
    deadline, still = time.monotonic() + timeout_s, 0
    previous: dict[str, float] = {}
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"footfall serve exited with {proc.returncode}")
        try:
            figures = _lags(port)
        except OSError:
            time.sleep(0.5)
            continue
        idle = bool(figures) and figures == previous and all(
            v == 0 for k, v in figures.items() if k.startswith("footfall_projection_lag_messages")
        )  # fmt: skip
        still = still + 1 if idle else 0
        if still >= 3:
            return
        previous = figures
        time.sleep(1.0)
    raise RuntimeError("footfall serve did not catch up")


def events_folded(port: int) -> float:
    return sum(v for k, v in _lags(port).items() if k.startswith("footfall_projection_events_total"))


def table_digests(data_dir: Path) -> dict[str, tuple[int, int]]:
    """Per footfall table (not the bookkeeping ones): row count and the sum of its rows' hashes.

    Summing and Replacing tables are read FINAL: how far their parts have merged differs between runs.
    """
    rows = subprocess.run(
        footfall_command("sql", "--data-dir", str(data_dir), "--format", "TSV", "SELECT name, engine FROM "
                         "system.tables WHERE database = 'footfall' AND engine LIKE '%MergeTree' ORDER BY name"),
        env=footfall_env(), capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    parts = []
    for name, engine in (row.split("\t") for row in rows):
        if name in _INTERNAL_TABLES or name.endswith(("__previous", "__build")):
            continue
        final = " FINAL" if engine != "MergeTree" else ""
        source = _SUMMED.get(name, f"{name}{final}")
        parts.append(f"SELECT '{name}', count(), coalesce(sum(cityHash64(*)), 0) FROM {source}")
    query = " UNION ALL ".join(parts)
    out = subprocess.run(footfall_command("sql", "--data-dir", str(data_dir), "--format", "TSV", query),
                         env=footfall_env(), capture_output=True, text=True, check=True).stdout  # fmt: skip
    return {row[0]: (int(row[1]), int(row[2])) for row in (line.split("\t") for line in out.splitlines())}


def _load(port: int, config: ServeBenchConfig, store_id: str) -> tuple[dict[str, list[float]], list[str]]:
    import clickhouse_connect

    latencies: dict[str, list[float]] = {name: [] for name in ANALYST_QUERIES}
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + config.seconds
    last_day_s = (T0_NS + (config.days - 1) * DAY_NS) // 1_000_000_000
    fields = {
        "store": store_id,
        "month": dt.datetime.fromtimestamp(T0_NS // 1_000_000_000, dt.UTC).strftime("%Y-%m-01"),
        "hour_start": dt.datetime.fromtimestamp(last_day_s, dt.UTC).strftime("%Y-%m-%d %H:00:00"),
        "hour_end": dt.datetime.fromtimestamp(last_day_s + 3600, dt.UTC).strftime("%Y-%m-%d %H:00:00"),
    }
    queries = [(name, sql.format(**fields)) for name, sql in ANALYST_QUERIES.items()]

    def client(index: int) -> None:
        cl = clickhouse_connect.get_client(host="127.0.0.1", port=port)
        i = index
        while time.monotonic() < deadline:
            name, sql = queries[i % len(queries)]
            i += 1
            started = time.perf_counter()
            try:
                cl.query(sql)
            except Exception as exc:  # counted and reported: the bench must see every failure
                with lock:
                    errors.append(f"{name}: {type(exc).__name__}: {str(exc)[:200]}")
                continue
            with lock:
                latencies[name].append(time.perf_counter() - started)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(config.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors


def quantile_ms(values: list[float], q: float) -> float | None:
    """The q-quantile of `values` (seconds) in milliseconds, to 0.1 ms; None for no values."""
    return round(float(np.quantile(values, q)) * 1000, 1) if values else None


def _dashboard(config: ServeBenchConfig, port: int, nats_url: str, layout: Any) -> dict[str, Any]:
    """The dashboard's figures over the whole history (ops/bench/dashboard.py)."""
    from ops.bench import dashboard

    first = dt.datetime.fromtimestamp(T0_NS // 1_000_000_000, dt.UTC).date()  # the bench store keeps UTC
    window = dashboard.Window(first.isoformat(), (first + dt.timedelta(days=config.days)).isoformat(),
                              T0_NS + config.days * DAY_NS)  # fmt: skip
    _say("dashboard: every API route over the history, a live tile's latency, each page's first render ...")
    return {
        "window": {"from": window.from_date, "to": window.to_date},
        "routes": dashboard.route_latencies(port, STORE, window),
        "live_tile": dashboard.live_latency(port, nats_url, layout),
        "first_render": dashboard.page_renders(port, STORE, window),
    }


def run_bench(config: ServeBenchConfig) -> dict[str, Any]:
    from stream.embedded import EmbeddedNats

    with tempfile.TemporaryDirectory(prefix="footfall-bench-serve-") as tmp, EmbeddedNats(Path(tmp) / "nats") as log:
        root = Path(tmp)
        _say(f"simulating and publishing {config.days - 1} days of history ...")
        started = time.perf_counter()
        days = simulate_days(config, range(config.days - 1))
        history = asyncio.run(publish_days(log.url, days))
        publish_s = time.perf_counter() - started
        serve_dir = root / "serve"
        with serve_process(log.url, serve_dir) as (proc, port):
            _say("serve folding the history ...")
            started = time.perf_counter()
            wait_caught_up(proc, port)
            history_fold_s = time.perf_counter() - started
            events_before = events_folded(port)
            _say(
                f"publishing the last day, then {config.clients} clients querying for {config.seconds:.0f} s while "
                "serve folds it ..."
            )
            # Simulated and published by a process of its own while the clients run: serve folds it as it
            # arrives (it keeps up with the publisher), so the folding overlaps the load. A publisher thread
            # here, beside 16 client threads, was starved of the GIL and published after the load.
            spawn = multiprocessing.get_context("spawn")
            simulated = spawn.Event()
            publisher = spawn.Process(target=_publish_in_child, args=(log.url, config, config.days - 1, simulated))
            publisher.start()
            simulated.wait()  # the load starts with the publishing, not with the simulation before it
            latencies, errors = _load(port, config, STORE)
            events_during = events_folded(port) - events_before
            publisher.join()
            if publisher.exitcode != 0:
                raise RuntimeError(f"publishing the last day failed (exit status {publisher.exitcode})")
            wait_caught_up(proc, port)
            dashboard = _dashboard(config, port, log.url, days[0].layout) if config.dashboard else None
            proc.send_signal(signal.SIGTERM)
            serve_rc = proc.wait(timeout=300)
        every = [v for values in latencies.values() for v in values]
        report: dict[str, Any] = {
            "bench": "serve",
            "store": {
                "days": config.days,
                "hours_per_day": config.hours,
                "parties_per_hour": config.parties_per_hour,
                "cameras": config.cameras,
                "noise": config.noise,
                "seed": config.seed,
                "history_messages": history,
            },
            "clients": config.clients,
            "seconds": config.seconds,
            "queries": len(every),
            "errors": len(errors),
            "first_errors": errors[:5],
            "latency_ms": {
                "p50": quantile_ms(every, 0.5),
                "p95": quantile_ms(every, 0.95),
                "p99": quantile_ms(every, 0.99),
                "max": quantile_ms(every, 1.0),
            },
            "p95_ms_per_query": {name: quantile_ms(values, 0.95) for name, values in latencies.items()},
            "events_folded_during_load": int(events_during),
            "history_publish_s": round(publish_s, 1),
            "history_fold_s": round(history_fold_s, 1),
            "dashboard": dashboard,
            "serve_exit_status": serve_rc,
            "cpus": os.cpu_count(),
        }
        if config.compare_clean_run:
            _say("clean run: footfall project --until-caught-up over the same log ...")
            clean_dir = root / "clean"
            project = footfall_command("project", "--until-caught-up", "--url", log.url, "--data-dir", str(clean_dir))
            subprocess.run(project, env=footfall_env(), check=True)
            served, clean = table_digests(serve_dir), table_digests(clean_dir)
            report["tables_equal_clean_run"] = served == clean
            report["tables_differing"] = sorted(t for t in set(served) | set(clean) if served.get(t) != clean.get(t))
        return report
