"""The headline measures of a store over a time window, read from the analytics tables per time unit.

`footfall whatif` (live vs scratch tables) and `footfall compare` (two periods) report the same set:
customer visits and group visits, entries and exits per door line, stays and dwell (median, p90) per
zone, transitions, the funnel's stages, queue length and wait per queue zone, and occupancy. Each is
read once per time unit (an hour, a day, or the whole window), so a period's value is a fold of its
units and a bootstrap can resample them without going back to the store.

A row belongs to a window by when it started: a visit by `started`, a stay by `entered`, a funnel row
by its visit's start, line counts and transitions by their 5-minute bucket, samples by their tick.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from projections.store import Store

NS = 1_000_000_000
Key = tuple[str, str]  # (measure, subject): ("entries", "door"), ("dwell_median_s", "snacks"), ("visits", "")

# Measures that are counts: a period's value is the sum of its units'. The others are derived below.
COUNTS = ("visits", "group_visits", "entries", "exits", "stays", "transitions", "funnel")
# Quantiles of dwell (seconds) reported per zone: quantileExactInclusive's, i.e. numpy's linear method.
DWELL_QUANTILES = (("dwell_median_s", 0.5), ("dwell_p90_s", 0.9))


@dataclass(frozen=True)
class Window:
    """[from_ns, to_ns) in ns since the epoch, cut into units of unit_s seconds (aligned to the epoch)."""

    from_ns: int
    to_ns: int
    unit_s: int

    def __post_init__(self) -> None:
        if self.to_ns <= self.from_ns:
            raise ValueError(f"window must end after it starts, got {self.from_ns}..{self.to_ns} ns")
        if self.unit_s < 1:
            raise ValueError(f"unit_s must be at least 1 second, got {self.unit_s}")

    @property
    def from_s(self) -> int:
        return -(-self.from_ns // NS)  # a 5-minute bucket starting before from_ns is not in the window

    @property
    def to_s(self) -> int:
        return -(-self.to_ns // NS)


@dataclass
class UnitMeasures:
    """Per time unit (unit index = start second // unit_s): count sums, ratio parts and dwell samples.

    counts[key][unit]: a count. sums/samples[key][unit]: the sum and the number of samples of a series
    (a mean is their ratio); peaks[key][unit]: its maximum. dwell[zone][unit]: the stays' dwell (seconds).
    """

    counts: dict[Key, dict[int, float]] = field(default_factory=lambda: defaultdict(dict))
    sums: dict[Key, dict[int, float]] = field(default_factory=lambda: defaultdict(dict))
    samples: dict[Key, dict[int, float]] = field(default_factory=lambda: defaultdict(dict))
    peaks: dict[Key, dict[int, float]] = field(default_factory=lambda: defaultdict(dict))
    dwell: dict[str, dict[int, npt.NDArray[np.float64]]] = field(default_factory=lambda: defaultdict(dict))

    def units(self) -> list[int]:
        """Every unit any measure has a value for, in order."""
        seen: set[int] = set()
        for table in (self.counts, self.sums, self.peaks):
            for per_unit in table.values():
                seen.update(per_unit)
        for per_unit_dwell in self.dwell.values():
            seen.update(per_unit_dwell)
        return sorted(seen)


def _where(store_id: str, versions: Sequence[int] | None) -> str:
    where = f"store_id = '{store_id}'"
    if versions is not None:
        where += f" AND layout_version IN ({', '.join(str(int(v)) for v in versions) or 'NULL'})"
    return where


def read_units(
    store: Store, store_id: str, window: Window, *, suffix: str = "", versions: Sequence[int] | None = None
) -> UnitMeasures:
    """Read every measure per unit of `window` from the tables `<table><suffix>` of the store's database.

    versions: the layout versions whose rows count (None: all). store_id is an id ([a-z0-9_-]), so a safe
    literal.
    """
    db, u = store.database, int(window.unit_s)
    where = _where(store_id, versions)
    ns_range = f"BETWEEN {window.from_ns} AND {window.to_ns - 1}"
    s_range = f"BETWEEN {window.from_s} AND {window.to_s - 1}"
    out = UnitMeasures()
    for unit, visits, groups in store.query_rows(
        f"SELECT intDiv(toUnixTimestamp(started), {u}) AS unit, countIf(NOT is_staff), "
        f"uniqExactIf(party_id, NOT is_staff) FROM {db}.visits{suffix} "
        f"WHERE {where} AND toUnixTimestamp64Nano(started) {ns_range} GROUP BY unit"
    ):
        out.counts[("visits", "")][int(unit)] = float(visits)
        out.counts[("group_visits", "")][int(unit)] = float(groups)
    for unit, line, entries, exits in store.query_rows(
        f"SELECT intDiv(toUnixTimestamp(bucket_start), {u}) AS unit, line_id, sum(entries), sum(exits) "
        f"FROM {db}.footfall_lines{suffix} WHERE {where} AND toUnixTimestamp(bucket_start) {s_range} "
        "GROUP BY unit, line_id"
    ):
        out.counts[("entries", str(line))][int(unit)] = float(entries)
        out.counts[("exits", str(line))][int(unit)] = float(exits)
    for unit, zone, dwell in store.query_rows(
        f"SELECT intDiv(toUnixTimestamp(entered), {u}) AS unit, zone_id, groupArray(dwell_s) "
        f"FROM {db}.zone_visits{suffix} WHERE {where} AND toUnixTimestamp64Nano(entered) {ns_range} "
        "GROUP BY unit, zone_id"
    ):
        values = np.asarray(dwell, dtype=np.float64)
        out.counts[("stays", str(zone))][int(unit)] = float(len(values))
        out.dwell[str(zone)][int(unit)] = values
    for unit, a, b, n in store.query_rows(
        f"SELECT intDiv(toUnixTimestamp(bucket_start), {u}) AS unit, from_state, to_state, sum(transitions) "
        f"FROM {db}.zone_transitions{suffix} WHERE {where} AND toUnixTimestamp(bucket_start) {s_range} "
        "GROUP BY unit, from_state, to_state"
    ):
        out.counts[("transitions", f"{a}>{b}")][int(unit)] = float(n)
    for unit, stage, n in store.query_rows(
        f"SELECT intDiv(toUnixTimestamp(started), {u}) AS unit, stage, count() FROM {db}.funnel_visits{suffix} "
        f"WHERE {where} AND toUnixTimestamp64Nano(started) {ns_range} GROUP BY unit, stage"
    ):
        out.counts[("funnel", str(stage))][int(unit)] = float(n)
    ms_range = f"BETWEEN {window.from_ns // 1_000_000} AND {(window.to_ns - 1) // 1_000_000}"
    for unit, zone, n, length, peak, wait in store.query_rows(
        f"SELECT intDiv(toUnixTimestamp(ts), {u}) AS unit, zone_id, count(), sum(queue_length), max(queue_length), "
        f"sum(est_wait_s) FROM {db}.queue_series{suffix} WHERE {where} AND toUnixTimestamp64Milli(ts) {ms_range} "
        "GROUP BY unit, zone_id"
    ):
        key_unit = int(unit)
        for name, value in (("queue_length", length), ("queue_wait_s", wait)):
            out.sums[(name, str(zone))][key_unit] = float(value)
            out.samples[(name, str(zone))][key_unit] = float(n)
        out.peaks[("queue_peak_length", str(zone))][key_unit] = float(peak)
    for unit, zone, n, people, peak in store.query_rows(
        f"SELECT intDiv(toUnixTimestamp(ts), {u}) AS unit, zone_id, count(), sum(people), max(people) "
        f"FROM {db}.occupancy_series{suffix} WHERE {where} AND toUnixTimestamp64Milli(ts) {ms_range} "
        "GROUP BY unit, zone_id"
    ):
        subject = str(zone) or "store"
        out.sums[("occupancy", subject)][int(unit)] = float(people)
        out.samples[("occupancy", subject)][int(unit)] = float(n)
        out.peaks[("occupancy_peak", subject)][int(unit)] = float(peak)
    return out


def summarise(units: UnitMeasures, picked: Iterable[int] | None = None) -> dict[Key, float]:
    """The period's value of every measure over the units `picked` (None: all; repeats count again).

    Counts add up; queue length, wait and occupancy are means over the samples; peaks are maxima; dwell
    quantiles are over every stay of the picked units. A unit without rows adds zero to a count.
    """
    chosen = units.units() if picked is None else list(picked)
    out: dict[Key, float] = {}
    for key, per_unit in units.counts.items():
        out[key] = float(sum(per_unit.get(u, 0.0) for u in chosen))
    for key, per_unit in units.sums.items():
        n = sum(units.samples[key].get(u, 0.0) for u in chosen)
        out[(f"{key[0]}_mean", key[1])] = float(sum(per_unit.get(u, 0.0) for u in chosen) / n) if n else float("nan")
    for key, per_unit in units.peaks.items():
        out[key] = max((per_unit[u] for u in chosen if u in per_unit), default=float("nan"))
    for zone, per_unit_dwell in units.dwell.items():
        arrays = [per_unit_dwell[u] for u in chosen if u in per_unit_dwell]
        values = np.concatenate(arrays) if arrays else np.zeros(0)
        for name, q in DWELL_QUANTILES:
            out[(name, zone)] = float(np.quantile(values, q)) if len(values) else float("nan")
    return out


@dataclass(frozen=True)
class Difference:
    """One measure in two versions or periods: a, b, b - a, and b's change relative to a (None if a is 0)."""

    measure: str
    subject: str
    a: float
    b: float

    @property
    def delta(self) -> float:
        return self.b - self.a

    @property
    def relative(self) -> float | None:
        return self.delta / self.a if self.a and np.isfinite(self.a) else None


def differences(a: dict[Key, float], b: dict[Key, float]) -> list[Difference]:
    """Every measure of either side, sorted by measure then subject; a side without it counts 0 (or nan)."""
    out = []
    for key in sorted(set(a) | set(b)):
        missing = 0.0 if key[0] in COUNTS else float("nan")
        out.append(Difference(key[0], key[1], a.get(key, missing), b.get(key, missing)))
    return out
