"""The dashboard's and the weekly report's measures, each one query (or a few) over the analytics tables.

Every function takes a `Query`: a callable that runs one parameterised SELECT and returns its JSONEachRow
bytes. serve's API passes one that runs as the requesting user (ops/serve/access.py: read-only session,
the user's store row filters), so nothing here can read what the user may not.

Times: windows are [from_ns, to_ns) in ns since the epoch (UTC); the store's IANA time zone decides where
local days, weeks and months begin. Tables keep 5-minute buckets (footfall_lines) or raw timestamps, so
series are read in 5-minute buckets and rolled up here into local buckets, which stays right across DST
changes and for zones whose offset is not a whole hour.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar
from zoneinfo import ZoneInfo

import msgspec

Query = Callable[[str, dict[str, str]], bytes]
"""Run `sql` with query parameters ({name:Type} placeholders); the rows as JSONEachRow bytes."""

FIVE_MIN_S = 300
ENGAGE_S = 15.0  # a stay this long in a product zone is engagement (projections/funnel.py's ENGAGE_S)
MAX_BUCKETS = 5000
# Bucket sizes a series can be read at: seconds, or a calendar unit of the store's time zone.
BUCKETS: dict[str, int | str] = {"5m": 300, "15m": 900, "1h": 3600, "1d": "day", "1w": "week", "1mo": "month"}
_T = TypeVar("_T")


class InsightError(ValueError):
    """A request the measures cannot answer (a bad window or bucket); the message names the value."""


@dataclass(frozen=True)
class Window:
    """[from_ns, to_ns) in ns since the epoch, read in the store's time zone `tz`."""

    from_ns: int
    to_ns: int
    tz: ZoneInfo

    def __post_init__(self) -> None:
        if self.to_ns <= self.from_ns:
            raise InsightError(f"window must end after it starts, got from {self.from_ns} to {self.to_ns} ns")

    @property
    def previous(self) -> Window:
        """The window of the same length just before this one (period over period)."""
        return Window(2 * self.from_ns - self.to_ns, self.from_ns, self.tz)

    def shifted_days(self, days: int) -> Window:
        """The same local clock times `days` days earlier (negative: later), DST-safe."""
        return Window(_shift_days(self.from_ns, days, self.tz), _shift_days(self.to_ns, days, self.tz), self.tz)

    def params(self, store_id: str) -> dict[str, str]:
        return {"store": store_id, "from_ns": str(self.from_ns), "to_ns": str(self.to_ns),
                "from_s": str(self.from_ns // 1_000_000_000), "to_s": str(-(-self.to_ns // 1_000_000_000)),
                "tz": self.tz.key}  # fmt: skip


def _shift_days(ns: int, days: int, tz: ZoneInfo) -> int:
    local = dt.datetime.fromtimestamp(ns / 1e9, tz)
    moved = (local.replace(tzinfo=None) - dt.timedelta(days=days)).replace(tzinfo=tz)
    return int(moved.timestamp()) * 1_000_000_000 + (ns % 1_000_000_000)


def local_midnight_ns(ns: int, tz: ZoneInfo) -> int:
    """The start of the local day (in `tz`) that holds `ns`."""
    day = dt.datetime.fromtimestamp(ns / 1e9, tz).date()
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()) * 1_000_000_000


def parse_time(value: str, tz: ZoneInfo) -> int:
    """ns since the epoch of `value`: an ISO date (local midnight in `tz`), an ISO date-time (local in `tz`
    unless it names its zone), or an integer of ns. InsightError names the value otherwise."""
    text = value.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InsightError(f"expected an ISO 8601 date or date-time (2026-01-05, 2026-01-05T09:00, "
                           f"2026-01-05T09:00+01:00) or ns since the epoch, got {value!r}") from None  # fmt: skip
    if when.tzinfo is None:
        when = when.replace(tzinfo=tz)
    return int(when.timestamp()) * 1_000_000_000 + when.microsecond * 1_000


def iso_week_window(week: str, tz: ZoneInfo) -> Window:
    """The local Monday-to-Monday window of ISO week `week` ("2026-W01"); InsightError names a bad value."""
    try:
        monday = dt.datetime.strptime(f"{week}-1", "%G-W%V-%u").date()
    except ValueError:
        raise InsightError(f"expected an ISO week such as 2026-W01, got {week!r}") from None
    start = dt.datetime(monday.year, monday.month, monday.day, tzinfo=tz)
    end_day = monday + dt.timedelta(days=7)
    end = dt.datetime(end_day.year, end_day.month, end_day.day, tzinfo=tz)
    return Window(int(start.timestamp()) * 1_000_000_000, int(end.timestamp()) * 1_000_000_000, tz)


def local_iso(ns: int, tz: ZoneInfo) -> str:
    """ns since the epoch as a local ISO 8601 date-time with its offset (2026-01-05T09:00:00+01:00)."""
    return dt.datetime.fromtimestamp(ns // 1_000_000_000, tz).isoformat()


def bucket_edges(window: Window, bucket: str) -> list[int]:
    """Bucket starts (s since the epoch) covering the window, aligned to local clock and calendar, plus the
    window's end; InsightError for an unknown bucket or more than MAX_BUCKETS buckets."""
    size = BUCKETS.get(bucket)
    if size is None:
        raise InsightError(f"bucket must be one of {', '.join(BUCKETS)}, got {bucket!r}")
    start_s, end_s = window.from_ns // 1_000_000_000, -(-window.to_ns // 1_000_000_000)
    if isinstance(size, int):
        if (end_s - start_s) / size > MAX_BUCKETS:
            raise InsightError(f"{bucket} buckets over this window make more than {MAX_BUCKETS}: pick a larger bucket")
        midnight = local_midnight_ns(window.from_ns, window.tz) // 1_000_000_000
        first = midnight + (start_s - midnight) // size * size
        return [*range(first, end_s, size), end_s]
    local = dt.datetime.fromtimestamp(start_s, window.tz).date()
    if size == "week":
        local -= dt.timedelta(days=local.weekday())
    elif size == "month":
        local = local.replace(day=1)
    edges = []
    while True:
        s = int(dt.datetime(local.year, local.month, local.day, tzinfo=window.tz).timestamp())
        if s >= end_s:
            break
        edges.append(s)
        if size == "day":
            local += dt.timedelta(days=1)
        elif size == "week":
            local += dt.timedelta(days=7)
        else:
            local = (local.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return [*edges, end_s]


def _rows(query: Query, sql: str, params: dict[str, str], row_type: type[_T]) -> list[_T]:
    data = query(sql, params)
    lines = [line for line in data.split(b"\n") if line]
    # strict=False: the engine may quote 64-bit integers in JSON; they decode into the row's int fields.
    return msgspec.json.decode(b"[" + b",".join(lines) + b"]", type=list[row_type], strict=False)  # type: ignore[valid-type]


def _rollup(edges: Sequence[int], points: Sequence[tuple[int, float]]) -> list[float]:
    """Sum of (t_s, value) points into the buckets that `edges` bound."""
    out = [0.0] * (len(edges) - 1)
    for t, value in points:
        i = bisect.bisect_right(edges, t) - 1
        if 0 <= i < len(out):
            out[i] += value
    return out


def _rollup_max(edges: Sequence[int], points: Sequence[tuple[int, float]]) -> list[float | None]:
    out: list[float | None] = [None] * (len(edges) - 1)
    for t, value in points:
        i = bisect.bisect_right(edges, t) - 1
        if 0 <= i < len(out):
            current = out[i]
            out[i] = value if current is None else max(current, value)
    return out


# Predicates of a window over each table's time column (the tables store UTC).
_STARTED = ("store_id = {store:String} AND started >= fromUnixTimestamp64Nano({from_ns:Int64}) "
            "AND started < fromUnixTimestamp64Nano({to_ns:Int64})")  # fmt: skip
_TS = ("store_id = {store:String} AND ts >= fromUnixTimestamp64Nano({from_ns:Int64}) "
       "AND ts < fromUnixTimestamp64Nano({to_ns:Int64})")  # fmt: skip
_BUCKET = ("store_id = {store:String} AND bucket_start >= toDateTime({from_s:Int64}, 'UTC') "
           "AND bucket_start < toDateTime({to_s:Int64}, 'UTC')")  # fmt: skip
_ENTERED = ("store_id = {store:String} AND entered >= fromUnixTimestamp64Nano({from_ns:Int64}) "
            "AND entered < fromUnixTimestamp64Nano({to_ns:Int64})")  # fmt: skip

VISITS_SQL = f"SELECT countIf(NOT is_staff) AS visits FROM visits WHERE {_STARTED}"
"""Customer visits that started in the window (a visit is recorded when it ends)."""


class _Count(msgspec.Struct):
    visits: int


def visit_count(query: Query, store_id: str, window: Window) -> int:
    """Customer visits (staff excluded) that started in the window and have ended."""
    return _rows(query, VISITS_SQL, window.params(store_id), _Count)[0].visits


# ---- overview ---------------------------------------------------------------------------------------------


class QueueNow(msgspec.Struct):
    zone_id: str
    queue_length: int
    est_wait_s: float
    ts_ms: int


class OpenAlert(msgspec.Struct):
    rule_id: str
    zone_id: str
    metric: str
    severity: str
    raised_ms: int
    threshold: float
    peak: float


class Overview(msgspec.Struct):
    """Today so far (local day of `at`) and now, with the same weekday a week before at the same clock time."""

    store_id: str
    time_zone: str
    at: str
    day_start: str
    visits_today: int
    visits_same_weekday_last_week: int
    visits_change_pct: float | None
    occupancy_now: int | None = None
    occupancy_at: str | None = None
    queue_now: list[QueueNow] = []
    open_alerts: list[OpenAlert] = []


class _Occupancy(msgspec.Struct):
    people: int
    ts_ms: int


OCCUPANCY_NOW_SQL = (
    "SELECT people, toUnixTimestamp64Milli(ts) AS ts_ms FROM occupancy_series WHERE store_id = {store:String} "
    "AND zone_id = '' AND ts <= fromUnixTimestamp64Nano({to_ns:Int64}) AND ts > fromUnixTimestamp64Nano({to_ns:Int64}) "
    "- INTERVAL 10 MINUTE ORDER BY ts DESC, layout_version DESC LIMIT 1"
)
QUEUE_NOW_SQL = (
    "SELECT zone_id, argMax(queue_length, ts) AS queue_length, argMax(est_wait_s, ts) AS est_wait_s, "
    "toUnixTimestamp64Milli(max(ts)) AS ts_ms FROM queue_series WHERE store_id = {store:String} "
    "AND ts <= fromUnixTimestamp64Nano({to_ns:Int64}) "
    "AND ts > fromUnixTimestamp64Nano({to_ns:Int64}) - INTERVAL 10 MINUTE GROUP BY zone_id ORDER BY zone_id"
)
OPEN_ALERTS_SQL = (
    "SELECT rule_id, zone_id, metric, severity, toUnixTimestamp64Milli(raised_at) AS raised_ms, threshold, peak "
    "FROM alerts FINAL WHERE store_id = {store:String} AND raised_at <= fromUnixTimestamp64Nano({to_ns:Int64}) "
    "AND (cleared_at IS NULL OR cleared_at > fromUnixTimestamp64Nano({to_ns:Int64})) ORDER BY raised_at"
)


def overview(query: Query, store_id: str, at_ns: int, tz: ZoneInfo) -> Overview:
    """Visits today so far, occupancy and queues now (the newest sample in the 10 minutes before `at`),
    alerts open at `at`, and visits on the same weekday last week up to the same clock time."""
    today = Window(local_midnight_ns(at_ns, tz), max(at_ns, local_midnight_ns(at_ns, tz) + 1), tz)
    visits = visit_count(query, store_id, today)
    before = visit_count(query, store_id, today.shifted_days(7))
    occupancy = _rows(query, OCCUPANCY_NOW_SQL, today.params(store_id), _Occupancy)
    return Overview(
        store_id=store_id,
        time_zone=tz.key,
        at=local_iso(at_ns, tz),
        day_start=local_iso(today.from_ns, tz),
        visits_today=visits,
        visits_same_weekday_last_week=before,
        visits_change_pct=_change_pct(before, visits),
        occupancy_now=occupancy[0].people if occupancy else None,
        occupancy_at=local_iso(occupancy[0].ts_ms * 1_000_000, tz) if occupancy else None,
        queue_now=_rows(query, QUEUE_NOW_SQL, today.params(store_id), QueueNow),
        open_alerts=_rows(query, OPEN_ALERTS_SQL, today.params(store_id), OpenAlert),
    )


def _change_pct(before: float, after: float) -> float | None:
    return None if before == 0 else round(100.0 * (after - before) / before, 1)


# ---- trends -----------------------------------------------------------------------------------------------


class _Point(msgspec.Struct):
    t: int
    n: float


class _LinePoint(msgspec.Struct):
    line_id: str
    t: int
    entries: int
    exits: int


class _OccPoint(msgspec.Struct):
    t: int
    peak: int
    total: float
    samples: int


class DoorSeries(msgspec.Struct):
    line_id: str
    entries: list[float]
    exits: list[float]
    entries_total: int
    exits_total: int


class Trends(msgspec.Struct):
    """Series over local buckets: `buckets` are the bucket starts (local ISO), each list one value a bucket.

    occupancy_peak: most people in the store at any sample of the bucket; occupancy_mean: mean over samples.
    previous_*: the same series over the window just before (period over period), bucket by bucket.
    """

    store_id: str
    time_zone: str
    bucket: str
    buckets: list[str]
    visits: list[float]
    visits_total: int
    doors: list[DoorSeries]
    occupancy_peak: list[float | None]
    occupancy_mean: list[float | None]
    previous_visits: list[float]
    previous_visits_total: int
    visits_change_pct: float | None


VISITS_5M_SQL = (f"SELECT toUnixTimestamp(toStartOfFiveMinutes(started)) AS t, countIf(NOT is_staff) AS n "
                 f"FROM visits WHERE {_STARTED} GROUP BY t ORDER BY t")  # fmt: skip
LINES_5M_SQL = (f"SELECT line_id, toUnixTimestamp(bucket_start) AS t, sum(entries) AS entries, sum(exits) AS exits "
                f"FROM footfall_lines WHERE {_BUCKET} GROUP BY line_id, t ORDER BY line_id, t")  # fmt: skip
OCCUPANCY_5M_SQL = (f"SELECT toUnixTimestamp(toStartOfFiveMinutes(ts)) AS t, max(people) AS peak, "
                    f"sum(people) AS total, count() AS samples FROM occupancy_series WHERE {_TS} AND zone_id = '' "
                    f"GROUP BY t ORDER BY t")  # fmt: skip


def trends(query: Query, store_id: str, window: Window, bucket: str) -> Trends:
    edges = bucket_edges(window, bucket)
    params = window.params(store_id)
    visits = _rollup(edges, [(p.t, p.n) for p in _rows(query, VISITS_5M_SQL, params, _Point)])
    previous = window.previous
    prev_edges = [e - (window.to_ns - window.from_ns) // 1_000_000_000 for e in edges]
    prev = _rollup(prev_edges, [(p.t, p.n) for p in _rows(query, VISITS_5M_SQL, previous.params(store_id), _Point)])
    by_line: dict[str, list[_LinePoint]] = defaultdict(list)
    for row in _rows(query, LINES_5M_SQL, params, _LinePoint):
        by_line[row.line_id].append(row)
    doors = [DoorSeries(line_id, _rollup(edges, [(r.t, r.entries) for r in rows]),
                        _rollup(edges, [(r.t, r.exits) for r in rows]), sum(r.entries for r in rows),
                        sum(r.exits for r in rows)) for line_id, rows in sorted(by_line.items())]  # fmt: skip
    occ = _rows(query, OCCUPANCY_5M_SQL, params, _OccPoint)
    totals = _rollup(edges, [(r.t, r.total) for r in occ])
    samples = _rollup(edges, [(r.t, r.samples) for r in occ])
    return Trends(
        store_id=store_id,
        time_zone=window.tz.key,
        bucket=bucket,
        buckets=[local_iso(e * 1_000_000_000, window.tz) for e in edges[:-1]],
        visits=visits,
        visits_total=int(sum(visits)),
        doors=doors,
        occupancy_peak=_rollup_max(edges, [(r.t, r.peak) for r in occ]),
        occupancy_mean=[round(t / s, 2) if s else None for t, s in zip(totals, samples, strict=True)],
        previous_visits=prev,
        previous_visits_total=int(sum(prev)),
        visits_change_pct=_change_pct(sum(prev), sum(visits)),
    )


# ---- zones ------------------------------------------------------------------------------------------------


class ZoneDwell(msgspec.Struct):
    """One zone's stays in the window: dwell in seconds, engagement = share of stays of ENGAGE_S or more."""

    zone_id: str
    stays: int
    visits: int
    median_s: float
    p90_s: float
    mean_s: float
    engaged_share: float
    histogram_s: list[int] = []  # stays per 10-second bin of dwell, the last bin 300 s and over


class Zones(msgspec.Struct):
    store_id: str
    time_zone: str
    bin_s: int
    zones: list[ZoneDwell]


ZONES_SQL = (
    "SELECT zone_id, count() AS stays, uniqExact(visit_id) AS visits, quantileExactInclusive(0.5)(dwell_s) AS "
    "median_s, quantileExactInclusive(0.9)(dwell_s) AS p90_s, avg(dwell_s) AS mean_s, "
    f"countIf(dwell_s >= {ENGAGE_S}) / count() AS engaged_share FROM zone_visits WHERE {_ENTERED} "
    "GROUP BY zone_id ORDER BY zone_id"
)
ZONE_BINS_SQL = (f"SELECT zone_id, toUInt32(least(floor(dwell_s / 10), 30)) AS bin, count() AS n FROM zone_visits "
                 f"WHERE {_ENTERED} GROUP BY zone_id, bin ORDER BY zone_id, bin")  # fmt: skip


class _Bin(msgspec.Struct):
    zone_id: str
    bin: int
    n: int


def zones(query: Query, store_id: str, window: Window) -> Zones:
    params = window.params(store_id)
    rows = _rows(query, ZONES_SQL, params, ZoneDwell)
    bins: dict[str, list[int]] = defaultdict(lambda: [0] * 31)
    for b in _rows(query, ZONE_BINS_SQL, params, _Bin):
        bins[b.zone_id][b.bin] = b.n
    for row in rows:
        row.histogram_s = bins[row.zone_id]
        row.median_s, row.p90_s, row.mean_s = round(row.median_s, 2), round(row.p90_s, 2), round(row.mean_s, 2)
        row.engaged_share = round(row.engaged_share, 4)
    return Zones(store_id, window.tz.key, 10, rows)


# ---- journeys ---------------------------------------------------------------------------------------------


class Transition(msgspec.Struct):
    from_state: str
    to_state: str
    n: int


class Funnel(msgspec.Struct):
    """Visits reaching each stage (furthest stage at least), POS transactions and conversion (tx / entered)."""

    entered: int
    engaged: int
    queued: int
    checked_out: int
    transactions: int
    conversion: float | None


class Journeys(msgspec.Struct):
    store_id: str
    time_zone: str
    states: list[str]
    transitions: list[Transition]
    funnel: Funnel


TRANSITIONS_SQL = (f"SELECT from_state, to_state, sum(transitions) AS n FROM zone_transitions WHERE {_BUCKET} "
                   f"GROUP BY from_state, to_state ORDER BY n DESC, from_state, to_state")  # fmt: skip
FUNNEL_SQL = (f"SELECT count() AS entered, countIf(stage_index >= 1) AS engaged, countIf(stage_index >= 2) AS queued, "
              f"countIf(stage_index >= 3) AS checked_out FROM funnel_visits WHERE {_STARTED}")  # fmt: skip
POS_SQL = f"SELECT count() AS transactions FROM pos_transactions WHERE {_TS}"


class _FunnelRow(msgspec.Struct):
    entered: int
    engaged: int
    queued: int
    checked_out: int


class _Pos(msgspec.Struct):
    transactions: int


def journeys(query: Query, store_id: str, window: Window) -> Journeys:
    params = window.params(store_id)
    transitions = _rows(query, TRANSITIONS_SQL, params, Transition)
    f = _rows(query, FUNNEL_SQL, params, _FunnelRow)[0]
    tx = _rows(query, POS_SQL, params, _Pos)[0].transactions
    states = sorted({t.from_state for t in transitions} | {t.to_state for t in transitions})
    funnel = Funnel(f.entered, f.engaged, f.queued, f.checked_out, tx, round(tx / f.entered, 4) if f.entered else None)
    return Journeys(store_id, window.tz.key, states, transitions, funnel)


# ---- queue and staffing -----------------------------------------------------------------------------------


class QueueZone(msgspec.Struct):
    """One queue zone over local buckets: most people queueing, mean estimated wait (s), and the share of
    samples whose estimated wait exceeded the target."""

    zone_id: str
    max_length: list[float | None]
    mean_wait_s: list[float | None]
    share_over_target: float | None


class StaffHour(msgspec.Struct):
    """One local hour: customer visits started, mean staff present, their ratio, and whether over target."""

    hour: str
    customers: int
    staff: float
    customers_per_staff: float | None
    over_target: bool


class QueueStaffing(msgspec.Struct):
    store_id: str
    time_zone: str
    bucket: str
    buckets: list[str]
    target_wait_s: float
    customers_per_staff_target: float
    queues: list[QueueZone]
    hours: list[StaffHour]


QUEUE_5M_SQL = (f"SELECT zone_id, toUnixTimestamp(toStartOfFiveMinutes(ts)) AS t, max(queue_length) AS max_length, "
                f"sum(est_wait_s) AS wait_total, countIf(est_wait_s > {{target:Float64}}) AS over, count() AS samples "
                f"FROM queue_series WHERE {_TS} GROUP BY zone_id, t ORDER BY zone_id, t")  # fmt: skip
CUSTOMERS_PER_HOUR_SQL = (f"SELECT toUnixTimestamp(toStartOfHour(started, {{tz:String}})) AS t, "
                          f"countIf(NOT is_staff) AS n FROM visits WHERE {_STARTED} GROUP BY t ORDER BY t")  # fmt: skip
STAFF_SQL = ("SELECT toUnixTimestamp64Milli(started) AS s_ms, toUnixTimestamp64Milli(ended) AS e_ms FROM visits "
             "WHERE store_id = {store:String} AND is_staff AND ended > fromUnixTimestamp64Nano({from_ns:Int64}) "
             "AND started < fromUnixTimestamp64Nano({to_ns:Int64})")  # fmt: skip


class _QueuePoint(msgspec.Struct):
    zone_id: str
    t: int
    max_length: int
    wait_total: float
    over: int
    samples: int


class _Span(msgspec.Struct):
    s_ms: int
    e_ms: int


def staff_hours(query: Query, store_id: str, window: Window, target: float) -> list[StaffHour]:
    """Per local hour of the window with customers or staff: customers per member of staff present."""
    params = window.params(store_id)
    edges = bucket_edges(window, "1h")
    customers = _rollup(edges, [(p.t, p.n) for p in _rows(query, CUSTOMERS_PER_HOUR_SQL, params, _Point)])
    staff_s = [0.0] * (len(edges) - 1)
    for span in _rows(query, STAFF_SQL, params, _Span):
        s, e = span.s_ms / 1000.0, span.e_ms / 1000.0
        i = max(bisect.bisect_right(edges, s) - 1, 0)
        while i < len(staff_s) and edges[i] < e:
            staff_s[i] += max(0.0, min(e, edges[i + 1]) - max(s, edges[i]))
            i += 1
    out = []
    for i, n in enumerate(customers):
        staff = staff_s[i] / (edges[i + 1] - edges[i])
        if n == 0 and staff == 0:
            continue
        ratio = round(n / staff, 2) if staff > 0 else None
        out.append(StaffHour(local_iso(edges[i] * 1_000_000_000, window.tz), int(n), round(staff, 2), ratio,
                             ratio is not None and ratio > target))  # fmt: skip
    return out


def queue_staffing(query: Query, store_id: str, window: Window, bucket: str, *, target_wait_s: float,
                   customers_per_staff_target: float) -> QueueStaffing:  # fmt: skip
    edges = bucket_edges(window, bucket)
    params = {**window.params(store_id), "target": repr(float(target_wait_s))}
    by_zone: dict[str, list[_QueuePoint]] = defaultdict(list)
    for row in _rows(query, QUEUE_5M_SQL, params, _QueuePoint):
        by_zone[row.zone_id].append(row)
    queues = []
    for zone_id, rows in sorted(by_zone.items()):
        waits = _rollup(edges, [(r.t, r.wait_total) for r in rows])
        counts = _rollup(edges, [(r.t, r.samples) for r in rows])
        samples = sum(r.samples for r in rows)
        queues.append(QueueZone(zone_id, _rollup_max(edges, [(r.t, r.max_length) for r in rows]),
                                [round(w / c, 1) if c else None for w, c in zip(waits, counts, strict=True)],
                                round(sum(r.over for r in rows) / samples, 4) if samples else None))  # fmt: skip
    return QueueStaffing(store_id, window.tz.key, bucket, [local_iso(e * 1_000_000_000, window.tz) for e in edges[:-1]],
                         target_wait_s, customers_per_staff_target, queues,
                         staff_hours(query, store_id, window, customers_per_staff_target))  # fmt: skip


# ---- alerts and heatmap -----------------------------------------------------------------------------------


class AlertRow(msgspec.Struct):
    rule_id: str
    zone_id: str
    metric: str
    severity: str
    raised_ms: int
    cleared_ms: int | None
    threshold: float
    peak: float
    duration_s: float | None
    reason: str


class Alerts(msgspec.Struct):
    store_id: str
    time_zone: str
    alerts: list[AlertRow]


ALERTS_SQL = (
    "SELECT rule_id, zone_id, metric, severity, toUnixTimestamp64Milli(raised_at) AS raised_ms, "
    "if(cleared_at IS NULL, NULL, toUnixTimestamp64Milli(assumeNotNull(cleared_at))) AS cleared_ms, threshold, peak, "
    "duration_s, reason FROM alerts FINAL WHERE store_id = {store:String} AND raised_at < "
    "fromUnixTimestamp64Nano({to_ns:Int64}) AND (cleared_at IS NULL OR cleared_at >= "
    "fromUnixTimestamp64Nano({from_ns:Int64})) ORDER BY raised_at, rule_id"
)


def alerts(query: Query, store_id: str, window: Window) -> Alerts:
    return Alerts(store_id, window.tz.key, _rows(query, ALERTS_SQL, window.params(store_id), AlertRow))


class HeatCell(msgspec.Struct, array_like=True):
    """[cell_x, cell_y, seconds]: presence seconds in the cell (cell_x * cell_m metres from the origin)."""

    cell_x: int
    cell_y: int
    seconds: float


class Heatmap(msgspec.Struct):
    store_id: str
    time_zone: str
    cell_m: float
    k_anonymous: bool
    cells: list[HeatCell]


HEATMAP_SQL = (f"SELECT cell_x, cell_y, round(sum(presence_s), 2) AS seconds, any(cell_m) AS cell_m FROM heatmap "
               f"WHERE {_BUCKET} GROUP BY cell_x, cell_y ORDER BY cell_y, cell_x")  # fmt: skip
# Partners read only the k-anonymous view (each cell and bucket has >= k distinct tracks).
SHARED_HEATMAP_SQL = HEATMAP_SQL.replace("FROM heatmap", "FROM shared_heatmap")


class _Cell(msgspec.Struct):
    cell_x: int
    cell_y: int
    seconds: float
    cell_m: float


def heatmap(query: Query, store_id: str, window: Window, *, shared: bool = False) -> Heatmap:
    rows = _rows(query, SHARED_HEATMAP_SQL if shared else HEATMAP_SQL, window.params(store_id), _Cell)
    cell_m = rows[0].cell_m if rows else 0.0
    return Heatmap(store_id, window.tz.key, cell_m, shared, [HeatCell(r.cell_x, r.cell_y, r.seconds) for r in rows])
