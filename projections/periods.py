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
        arrays = [per_dwell.get(int(u), np.zeros(0)) for u in units]
        for name, q in DWELL_QUANTILES:
            values = np.full(len(picks), np.nan)
            for r, pick in enumerate(picks):
                pooled = np.concatenate([arrays[i] for i in pick])
                if len(pooled):
                    values[r] = np.quantile(pooled, q)
            out[(name, zone)] = values
    return out


def _point(m: UnitMeasures, units: npt.NDArray[np.int64], per_unit: bool) -> dict[Key, float]:
    values = summarise(m, units.tolist())
    if per_unit:
        for key in m.counts:
            values[key] /= len(units)
    return values


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
