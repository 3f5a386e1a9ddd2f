"""The counts' error model: fitting recovers known parameters, the SQL functions compute what numpy does,
and a model fitted on one sample covers the truth of another about as often as it says."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import numpy as np
import pytest

from projections.store import ChdbStore
from projections.uncertainty import MEASURES, PROFILES, CountModel, fit, function_sql, install_functions

SEED = 11
KNOWN = CountModel(rate=0.97, edge_var=0.8, item_var=0.05, bias_rel_sd=0.02)
SIZES = (5, 50, 600)  # true counts of windows as small as 5 minutes and as large as a day


def _sample(rng: np.random.Generator, model: CountModel, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(truth, measured, window size index) of n windows of each size."""
    truth = np.concatenate([rng.poisson(size, n) for size in SIZES]).astype(np.float64)
    sd = np.sqrt(model.edge_var + model.item_var * truth + (model.bias_rel_sd * truth) ** 2)
    return truth, np.round(model.rate * truth + rng.normal(0, sd)), np.repeat(np.arange(len(SIZES)), n)


def test_fit_recovers_the_parameters() -> None:
    print(f"seed {SEED}")
    got = fit(*_sample(np.random.default_rng(SEED), KNOWN, 4000))
    assert got.rate == pytest.approx(KNOWN.rate, abs=0.003)
    assert got.bias_rel_sd == pytest.approx(KNOWN.bias_rel_sd, abs=0.005)
    assert got.item_var + got.edge_var / 50 == pytest.approx(KNOWN.item_var + KNOWN.edge_var / 50, abs=0.05)


def test_intervals_cover_about_as_often_as_they_say() -> None:
    print(f"seed {SEED}")
    rng = np.random.default_rng(SEED)
    model = fit(*_sample(rng, KNOWN, 2000))
    truth, measured, _ = _sample(rng, KNOWN, 2000)
    _, lo, hi = model.interval(measured)
    inside = (truth >= lo) & (truth <= hi)
    assert 0.86 <= inside.mean() <= 0.94


def test_fit_refuses_what_it_cannot_fit() -> None:
    with pytest.raises(ValueError, match="one length"):
        fit([1.0, 2.0, 3.0], [1.0, 2.0], [0, 1, 2])
    with pytest.raises(ValueError, match="no counts"):
        fit([0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0, 1, 2])
    with pytest.raises(ValueError, match="rate"):
        CountModel(rate=0.0, edge_var=0.0, item_var=0.0, bias_rel_sd=0.0)


def test_sql_functions_equal_the_model(store: ChdbStore) -> None:
    install_functions(store)
    counts = [0, 1, 7, 60, 1500]
    for measure in MEASURES:
        model = PROFILES["realistic"][measure]
        est, lo, hi = model.interval(np.array(counts, dtype=np.float64))
        rows = store.query_rows(
            f"SELECT footfall_{measure}_estimate(n), footfall_{measure}_lo(n), footfall_{measure}_hi(n) "
            f"FROM (SELECT arrayJoin({counts}) AS n) ORDER BY n"
        )
        assert np.allclose(np.array(rows, dtype=np.float64), np.stack([est, lo, hi], axis=1), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="measure"):
        function_sql("heat", KNOWN)
    with pytest.raises(ValueError, match="profile"):
        install_functions(store, "nonesuch")


async def _provision(url: str) -> None:
    import nats

    from stream.provision import LogConfig, ensure_streams

    nc = await nats.connect(url)
    try:
        await ensure_streams(nc.jetstream(), LogConfig())
    finally:
        await nc.close()


def test_a_store_opened_by_footfall_answers_the_interval_functions(tmp_path: Path) -> None:
    """`footfall project` opens the store (ops.runtime.open_store), which installs the functions; a later
    `footfall sql` on the same data directory answers them."""
    from ops.bench.serve import footfall_command, footfall_env
    from stream.embedded import EmbeddedNats

    with EmbeddedNats(tmp_path / "nats") as log:
        asyncio.run(_provision(log.url))
        run = subprocess.run(footfall_command("project", "--until-caught-up", "pos", "--url", log.url, "--data-dir",
                                              str(tmp_path / "data")), env=footfall_env(), capture_output=True,
                             text=True, timeout=300)  # fmt: skip
        assert run.returncode == 0, run.stderr
    sql = "SELECT footfall_visits_lo(100) < 100, footfall_visits_hi(100) > 100, footfall_entries_estimate(0)"
    out = subprocess.run(footfall_command("sql", "--data-dir", str(tmp_path / "data"), "--format", "CSV", sql),
                         env=footfall_env(), capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1,1,0"
