"""A/B periods: every measure of two periods, their difference, and a bootstrap interval for it.

Each period is cut into units (hours or days); a bootstrap replicate draws as many units as the period
has, with replacement, from each period independently, and folds them as the period itself is folded
(projections.measures.summarise: counts add up, means are sample-weighted, dwell quantiles pool the
stays). The interval is the percentile interval of the replicates' differences (b - a).

Counts are compared as totals when both periods have as many units, else as means per unit (a week
against a day compares rates, not totals).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numba import njit

from projections.measures import (
    COUNTS,
    DWELL_QUANTILES,
    Difference,
    Key,
    UnitMeasures,
    Window,
    read_units,
    summarise,
)
from projections.store import Store

DEFAULT_RESAMPLES = 2000
DEFAULT_LEVEL = 0.9


DAY_S = 86_400


@dataclass(frozen=True)
class PeriodDifference(Difference):
    """One measure in periods a and b, b - a, and the bootstrap interval [lo, hi] of b - a at `level`."""

    lo: float
    hi: float


@dataclass(frozen=True)
class Comparison:
    """The differences, the unit resampled (seconds), the units per period, and whether counts are per unit."""

    rows: list[PeriodDifference]
    unit_s: int
    units_a: int
    units_b: int
    counts_per_unit: bool
    level: float
    resamples: int


def unit_ids(window: Window) -> npt.NDArray[np.int64]:
    """Every unit the window touches (empty ones too: an hour without visits is an observation)."""
    first = window.from_ns // (window.unit_s * 1_000_000_000)
    last = (window.to_ns - 1) // (window.unit_s * 1_000_000_000)
    return np.arange(first, last + 1, dtype=np.int64)


def _replicates(
    m: UnitMeasures, units: npt.NDArray[np.int64], picks: npt.NDArray[np.int64], per_unit: bool
) -> dict[Key, npt.NDArray[np.float64]]:
    """Each measure's value in every replicate (picks: (R, n) indices into units), as summarise computes it."""
    out: dict[Key, npt.NDArray[np.float64]] = {}
    n = len(units)

    def matrix(per: dict[int, float], fill: float) -> npt.NDArray[np.float64]:
        return np.array([per.get(int(u), fill) for u in units], dtype=np.float64)

    for key, per in m.counts.items():
        total = matrix(per, 0.0)[picks].sum(axis=1)
        out[key] = total / n if per_unit else total
    for key, per in m.sums.items():
        s = matrix(per, 0.0)[picks].sum(axis=1)
        c = matrix(m.samples[key], 0.0)[picks].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[(f"{key[0]}_mean", key[1])] = np.where(c > 0, s / np.maximum(c, 1e-300), np.nan)
    for key, per in m.peaks.items():
        peak = matrix(per, -np.inf)[picks].max(axis=1)
        out[key] = np.where(np.isfinite(peak), peak, np.nan)
    for zone, per_dwell in m.dwell.items():
        arrays = [np.asarray(per_dwell.get(int(u), np.zeros(0)), dtype=np.float64) for u in units]
        quantiles = pooled_quantiles(arrays, picks, [q for _, q in DWELL_QUANTILES])
        for (name, _), values in zip(DWELL_QUANTILES, quantiles, strict=True):
            out[(name, zone)] = values
    return out


def pooled_quantiles(
    arrays: list[npt.NDArray[np.float64]], picks: npt.NDArray[np.int64], qs: list[float]
) -> list[npt.NDArray[np.float64]]:
    """For each replicate r (a row of picks: indices into arrays, with repeats), each q's quantile of the
    arrays it picks pooled: what np.quantile(np.concatenate([arrays[i] for i in picks[r]]), q) gives (its
    linear method, to the bit), NaN where the pool is empty.

    Without pooling anything: the values are sorted once, and a replicate walks them weighing each by how
    often it picked the value's unit (`_pooled_kernel`). Pooling and sorting per replicate took 3 s of the
    dashboard's A/B page over a week of one store.
    """
    values = np.concatenate(arrays) if arrays else np.zeros(0)
    owner = np.repeat(np.arange(len(arrays), dtype=np.int64), [len(a) for a in arrays])
    order = np.argsort(values, kind="stable")
    out = np.full((len(qs), len(picks)), np.nan)
    if len(values):
        _pooled_kernel(values[order], owner[order], len(arrays), np.ascontiguousarray(picks, dtype=np.int64),
                       np.asarray(qs, dtype=np.float64), out)  # fmt: skip
    return list(out)


@njit(cache=True, nogil=True)
def _pooled_kernel(  # noqa: PLR0917 - a numba kernel: positional arrays
    values: npt.NDArray[np.float64],
    owner: npt.NDArray[np.int64],
    n_units: int,
    picks: npt.NDArray[np.int64],
    qs: npt.NDArray[np.float64],
    out: npt.NDArray[np.float64],
) -> None:  # pragma: no cover - compiled
    """out[j, r] = quantile qs[j] of replicate r's pool (values sorted; owner: each value's unit)."""
    times = np.zeros(n_units, np.int64)
    for r in range(picks.shape[0]):
        times[:] = 0
        for i in range(picks.shape[1]):
            times[picks[r, i]] += 1
        total = 0
        for v in range(len(values)):
            total += times[owner[v]]
        if total == 0:
            continue  # out stays NaN
        for j in range(len(qs)):
            virtual = qs[j] * (total - 1)  # numpy's linear method: index, neighbours, gamma
            below = np.floor(virtual)
            above = min(below + 1.0, float(total - 1))
            gamma = virtual - below
            a = b = values[len(values) - 1]
            seen, found_a = 0, False
            for v in range(len(values)):  # the value at pooled index k: the first whose cumulative weight > k
                seen += times[owner[v]]
                if not found_a and seen > below:
                    a, found_a = values[v], True
                if seen > above:
                    b = values[v]
                    break
            diff = b - a
            out[j, r] = b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma  # numpy's _lerp


def _point(m: UnitMeasures, units: npt.NDArray[np.int64], per_unit: bool) -> dict[Key, float]:
    values = summarise(m, units.tolist())
    if per_unit:
        for key in m.counts:
            values[key] /= len(units)
    return values


def choose_unit_s(unit: str, a: tuple[int, int], b: tuple[int, int]) -> int:
    """Seconds per bootstrap unit: --unit, or for auto days once both periods span 7 days, else hours."""
    if unit == "hour":
        return 3600
    if unit == "day":
        return DAY_S
    shortest_s = min(a[1] - a[0], b[1] - b[0]) / 1e9
    return DAY_S if shortest_s >= 7 * DAY_S else 3600


def compare(
    store: Store,
    store_id: str,
    a: Window,
    b: Window,
    *,
    level: float = DEFAULT_LEVEL,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> Comparison:
    """Every measure of periods a and b (the same unit_s) with a bootstrap interval of b - a."""
    if a.unit_s != b.unit_s:
        raise ValueError(f"both periods must be cut into the same units, got {a.unit_s} s and {b.unit_s} s")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if resamples < 100:
        raise ValueError(f"resamples must be at least 100 for a percentile interval, got {resamples}")
    ma, mb = read_units(store, store_id, a), read_units(store, store_id, b)
    ua, ub = unit_ids(a), unit_ids(b)
    per_unit = len(ua) != len(ub)
    rng = np.random.default_rng(seed)
    ra = _replicates(ma, ua, rng.integers(0, len(ua), size=(resamples, len(ua))), per_unit)
    rb = _replicates(mb, ub, rng.integers(0, len(ub), size=(resamples, len(ub))), per_unit)
    pa, pb = _point(ma, ua, per_unit), _point(mb, ub, per_unit)
    tail = (1 - level) / 2
    rows = []
    for key in sorted(set(pa) | set(pb)):
        missing = 0.0 if key[0] in COUNTS else np.nan
        da = ra.get(key, np.full(resamples, missing))
        db = rb.get(key, np.full(resamples, missing))
        diff = db - da
        finite = diff[np.isfinite(diff)]
        lo, hi = (float(v) for v in np.quantile(finite, [tail, 1 - tail])) if len(finite) else (np.nan, np.nan)
        rows.append(PeriodDifference(key[0], key[1], pa.get(key, missing), pb.get(key, missing), lo, hi))
    return Comparison(rows, a.unit_s, len(ua), len(ub), per_unit, level, resamples)
