"""`footfall eval uncertainty` simulates its days in parallel: the counts must not depend on how many
processes simulated them, nor on their order."""

from __future__ import annotations

import numpy as np

from ml_core.sim.noise import REALISTIC
from ops.eval.uncertainty import many_day_counts


def test_days_simulated_in_parallel_equal_days_simulated_here() -> None:
    here = many_day_counts([3, 1], REALISTIC, 8.0, 1, workers=1)
    parallel = many_day_counts([3, 1], REALISTIC, 8.0, 1, workers=2)
    assert len(parallel) == 2
    for a, b in zip(here, parallel, strict=True):
        for measure in a.truth:
            assert np.array_equal(a.truth[measure], b.truth[measure]), measure
            assert np.array_equal(a.measured[measure], b.measured[measure]), measure
    # in seed order: the two seeds' days differ, so a swapped result would not compare equal above
    assert not all(np.array_equal(here[0].truth[m], here[1].truth[m]) for m in here[0].truth)
