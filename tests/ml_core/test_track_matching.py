"""Association kernels against reference solvers: scipy's LSAP and lap's cost-limited extension, densely."""

from __future__ import annotations

import numpy as np
import pytest

from ml_core.track.matching import assign_sparse, linear_sum_assignment, overlap_pairs

scipy_optimize = pytest.importorskip("scipy.optimize", reason="scipy is the reference solver (dev extra)")

# (seed, rows, cols, integer costs?) — integer costs force ties.
LSAP_CASES = [(0, 1, 1, False), (1, 3, 7, False), (2, 6, 6, True), (3, 9, 12, False), (4, 5, 5, True), (5, 20, 25, False)]


@pytest.mark.parametrize(("seed", "rows", "cols", "integer"), LSAP_CASES)
def test_lsap_is_optimal(seed: int, rows: int, cols: int, integer: bool) -> None:
    rng = np.random.default_rng(seed)
    cost = np.round(rng.random((rows, cols)) * 3) if integer else rng.random((rows, cols))
    col_for_row = linear_sum_assignment(cost)
    ref_rows, ref_cols = scipy_optimize.linear_sum_assignment(cost)
    assert len(set(col_for_row.tolist())) == rows
    assert cost[np.arange(rows), col_for_row].sum() == pytest.approx(cost[ref_rows, ref_cols].sum())


def _lapjv_cost_limit(cost: np.ndarray, admissible: np.ndarray, limit: float) -> float:
    """Optimum of lap.lapjv(cost, extend_cost=True, cost_limit=limit), by its dense extension."""
    n, m = cost.shape
    ext = np.full((n + m, n + m), limit / 2.0)
    ext[n:, m:] = 0.0
    ext[:n, :m] = np.where(admissible, cost, 1e9)
    r, c = scipy_optimize.linear_sum_assignment(ext)
    return float(ext[r, c].sum())


SPARSE_SEEDS = list(range(12))


@pytest.mark.parametrize("seed", SPARSE_SEEDS)
def test_sparse_assignment_matches_lapjv_with_cost_limit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, m, limit = int(rng.integers(0, 10)), int(rng.integers(0, 10)), 0.8
    cost = rng.random((n, m)) * 1.2
    admissible = rng.random((n, m)) < 0.4
    rows, cols = np.nonzero(admissible)
    row_match, col_match = assign_sparse(rows.astype(np.int64), cols.astype(np.int64), cost[rows, cols], n, m, limit)
    matched = [(i, int(row_match[i])) for i in range(n) if row_match[i] >= 0]
    assert all(col_match[j] == i and admissible[i, j] and cost[i, j] < limit for i, j in matched)
    total = sum(cost[i, j] for i, j in matched) + limit / 2.0 * ((row_match < 0).sum() + (col_match < 0).sum())
    assert total == pytest.approx(_lapjv_cost_limit(cost, admissible, limit))


def _random_boxes(rng: np.random.Generator, n: int) -> np.ndarray:
    xy = rng.random((n, 2)) * 200.0
    return np.hstack([xy, xy + rng.random((n, 2)) * 60.0 + 1.0])


def _dense_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    iw = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = iw * ih
    area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None, :] - inter)


# (seed, n, m, min_iou)
OVERLAP_CASES = [(0, 0, 5, 0.0), (1, 5, 0, 0.0), (2, 40, 50, 0.0), (3, 40, 50, 0.2), (4, 100, 80, 0.5)]


@pytest.mark.parametrize(("seed", "n", "m", "min_iou"), OVERLAP_CASES)
def test_overlap_pairs_finds_every_pair_above_threshold(seed: int, n: int, m: int, min_iou: float) -> None:
    rng = np.random.default_rng(seed)
    a, b = _random_boxes(rng, n), _random_boxes(rng, m)
    rows, cols, ious = overlap_pairs(a, b, min_iou)
    dense = _dense_iou(a, b) if n and m else np.zeros((n, m))
    expected = set(zip(*np.nonzero(dense > min_iou), strict=True))
    assert set(zip(rows.tolist(), cols.tolist(), strict=True)) == {(int(i), int(j)) for i, j in expected}
    np.testing.assert_allclose(ious, dense[rows, cols])
