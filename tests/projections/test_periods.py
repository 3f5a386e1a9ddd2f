"""A/B periods: point values are the periods' own measures, intervals come from a seeded bootstrap over units."""

from __future__ import annotations

import functools

import nats
import numpy as np
import pytest

from ml_core.sim.agents import ShopperConfig
from ml_core.sim.noise import REALISTIC
from ops.simulation.pipeline import publish_day, run_analytics
from ops.simulation.simulate import SimulatedDay, simulate_day
from projections.measures import Window, read_units, summarise
from projections.migrations import migrate
from projections.periods import choose_unit_s, compare
from projections.store import ChdbStore
from stream.embedded import EmbeddedNats

SEED = 6
NS = 1_000_000_000
UNIT_S = 60  # minutes as units: the simulated day is short


@functools.cache
def _day() -> SimulatedDay:
    print(f"simulator seed {SEED}, realistic noise, 1 camera, 12 minutes of arrivals")
    return simulate_day(SEED, shopper=ShopperConfig(duration_s=720.0), noise=REALISTIC)


@pytest.fixture()
async def loaded(fresh_nats: EmbeddedNats, store: ChdbStore) -> ChdbStore:
    nc = await nats.connect(fresh_nats.url)
    try:
        await publish_day(nc, _day())
        migrate(store)
        await run_analytics(nc, store)
    finally:
        await nc.close()
    return store


def _halves() -> tuple[Window, Window]:
    start = min(e.ts_ns for e in _day().events) // (UNIT_S * NS) * (UNIT_S * NS)
    half = 6 * UNIT_S * NS
    return Window(start, start + half, UNIT_S), Window(start + half, start + 2 * half, UNIT_S)


async def test_points_are_the_periods_measures_and_intervals_are_seeded(loaded: ChdbStore) -> None:
    store_id = _day().layout.store_id
    a, b = _halves()
    result = compare(loaded, store_id, a, b, resamples=400, seed=3)
    assert (result.units_a, result.units_b, result.counts_per_unit) == (6, 6, False)
    point_a, point_b = summarise(read_units(loaded, store_id, a)), summarise(read_units(loaded, store_id, b))
    rows = {(r.measure, r.subject): r for r in result.rows}
    assert rows[("visits", "")].a == point_a[("visits", "")] > 0
    assert rows[("visits", "")].b == point_b[("visits", "")] > 0
    for row in result.rows:
        if row.lo == row.lo:  # a measure with replicates on both sides
            assert row.lo <= row.hi
    assert compare(loaded, store_id, a, b, resamples=400, seed=3).rows == result.rows


async def test_a_period_against_itself_holds_zero(loaded: ChdbStore) -> None:
    store_id = _day().layout.store_id
    a, _ = _halves()
    result = compare(loaded, store_id, a, a, resamples=400, seed=1)
    counted = [r for r in result.rows if r.measure in ("visits", "entries", "exits", "stays")]
    assert counted and all(r.delta == 0 and r.lo <= 0 <= r.hi for r in counted)


async def test_periods_of_different_lengths_compare_rates(loaded: ChdbStore) -> None:
    store_id = _day().layout.store_id
    a, b = _halves()
    longer = Window(a.from_ns, b.to_ns, UNIT_S)
    result = compare(loaded, store_id, a, longer, resamples=200)
    assert result.counts_per_unit
    visits = next(r for r in result.rows if r.measure == "visits")
    assert visits.b == pytest.approx(summarise(read_units(loaded, store_id, longer))[("visits", "")] / 12)


@pytest.mark.parametrize(
    ("unit", "days_a", "days_b", "expected_s"),
    [("auto", 7, 7, 86_400), ("auto", 7, 1, 3600), ("auto", 1, 1, 3600), ("hour", 30, 30, 3600), ("day", 1, 1, 86_400)],
)
def test_bootstrap_unit(unit: str, days_a: int, days_b: int, expected_s: int) -> None:
    day = 86_400 * NS
    assert choose_unit_s(unit, (0, days_a * day), (0, days_b * day)) == expected_s


def test_pooled_quantiles_equal_numpys_quantile_of_the_pooled_arrays() -> None:
    """The bootstrap's dwell quantiles, without pooling: to the bit what np.quantile of the concatenated
    picks gives, with repeated, empty and tied units, at q = 0 and 1 too; NaN for an empty pool."""
    from projections.periods import pooled_quantiles

    rng = np.random.default_rng(7)
    for _ in range(20):
        n = int(rng.integers(1, 25))
        arrays = [rng.lognormal(3, 1, size=int(rng.integers(0, 30))).round(int(rng.integers(0, 3)))
                  for _ in range(n)]  # fmt: skip
        picks = rng.integers(0, n, size=(int(rng.integers(1, 200)), n))
        qs = [0.5, 0.9, 0.0, 1.0, 0.37]
        got = pooled_quantiles(arrays, picks, qs)
        for j, q in enumerate(qs):
            for r, pick in enumerate(picks):
                pooled = np.concatenate([arrays[i] for i in pick])
                if len(pooled):
                    assert got[j][r] == np.quantile(pooled, q)
                else:
                    assert np.isnan(got[j][r])
    (empty,) = pooled_quantiles([np.zeros(0), np.zeros(0)], np.array([[0, 1], [1, 1]]), [0.5])
    assert np.isnan(empty).all()
