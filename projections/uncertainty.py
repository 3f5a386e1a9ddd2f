"""An error model of the counting pipeline, and intervals for counts computed at query time.

A true count T over a window (visits, door entries, door exits) reaches the tables as N: people the
tracker never holds long enough are missed, a person whose track is split (an id switch or a
fragment that stitching does not mend) counts twice, and at the window's edges a visit or crossing
is dated a little off its true time and moves across the edge. Modelled as

    E[N | T] = rate * T
    Var[N | T] = edge_var + item_var * T + (bias_rel_sd * T)^2

rate is 1 - miss + split per true item; item_var the variance per item of how often it is counted;
edge_var what the edges add whatever the window's length; bias_rel_sd how much rate itself varies
between days and stores (so a day's interval is not as narrow as its count alone would make it).
Given N, the estimate is T^ = N / rate and the interval T^ +- z sd, sd = sqrt(Var[N | T^]) / rate.
The same formula at any window length: a day's interval comes from the day's count, not from
adding hourly intervals, so coarser windows stay consistent with the counts they hold.

Parameters are fitted by footfall eval uncertainty (the mean squared residual of each window size,
fitted on 1, T, T^2) on simulated days with known truth; the profiles below are its
output, quoted in the README. Queries use them through SQL functions, `footfall_<measure>_estimate`,
`_lo` and `_hi`, installed by install_functions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from projections.store import Store

MEASURES = ("visits", "entries", "exits")
Z90 = 1.6448536269514722  # the standard normal's 95th percentile: a two-sided 90% interval


@dataclass(frozen=True)
class CountModel:
    """How one count of the pipeline relates to the truth (see the module docstring; counts of people)."""

    rate: float
    edge_var: float
    item_var: float
    bias_rel_sd: float

    def __post_init__(self) -> None:
        if not self.rate > 0:
            raise ValueError(f"rate must be > 0, got {self.rate}")
        for name in ("edge_var", "item_var", "bias_rel_sd"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")

    def interval(
        self, n: npt.ArrayLike, z: float = Z90
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """(estimate, lo, hi) of the true count for measured counts n (any shape); lo is at least 0."""
        est = np.asarray(n, dtype=np.float64) / self.rate
        sd = np.sqrt(self.edge_var + self.item_var * est + (self.bias_rel_sd * est) ** 2) / self.rate
        return est, np.maximum(est - z * sd, 0.0), est + z * sd


# Fitted by `footfall eval uncertainty` (seeds 1..20, 180 minutes, 3 cameras; README "Uncertainty").
PROFILES: dict[str, dict[str, CountModel]] = {
    "realistic": {
        "visits": CountModel(rate=0.99923, edge_var=0.017107, item_var=0.0016236, bias_rel_sd=0.0),
        "entries": CountModel(rate=1.0003, edge_var=0.014967, item_var=0.00052042, bias_rel_sd=0.00013653),
        "exits": CountModel(rate=0.9901, edge_var=0.029004, item_var=0.0086653, bias_rel_sd=0.0),
    },
    "pets09": {
        "visits": CountModel(rate=0.99616, edge_var=0.057948, item_var=0.0032252, bias_rel_sd=0.0018359),
        "entries": CountModel(rate=1.0, edge_var=0.027033, item_var=0.00094167, bias_rel_sd=0.0),
        "exits": CountModel(rate=0.94635, edge_var=0.040727, item_var=0.047989, bias_rel_sd=0.0),
    },
}
DEFAULT_PROFILE = "realistic"


def fit(truth: npt.ArrayLike, measured: npt.ArrayLike, groups: npt.ArrayLike) -> CountModel:
    """Fit a CountModel to windows' true and measured counts ((n,) arrays), windows grouped by size.

    rate: total measured over total true. The variance terms: per group (a window size), the mean true
    count and the mean squared residual (measured - rate * truth); then non-negative least squares of
    those means on 1, truth and truth^2, each group's row scaled by its own mean squared residual. Each
    window size weighs alike however many windows it has: fitted on every window at once, the thousands
    of 5-minute windows (most of them exact) would decide the variance of the hours and days.
    """
    t = np.asarray(truth, dtype=np.float64)
    m = np.asarray(measured, dtype=np.float64)
    g = np.asarray(groups)
    if t.shape != m.shape or t.shape != g.shape or t.ndim != 1 or len(t) < 3:
        raise ValueError(f"truth, measured and groups must be (n,) arrays of one length n >= 3, got {t.shape}, "
                         f"{m.shape}, {g.shape}")  # fmt: skip
    if t.sum() <= 0:
        raise ValueError("truth holds no counts to fit a rate to")
    rate = float(m.sum() / t.sum())
    r2 = (m - rate * t) ** 2
    labels = np.unique(g)
    mean_t = np.array([t[g == k].mean() for k in labels])
    mean_r2 = np.array([r2[g == k].mean() for k in labels])
    design = np.stack([np.ones_like(mean_t), mean_t, mean_t**2], axis=1)
    scale = 1.0 / np.maximum(mean_r2, 1e-6)
    coef = _nnls(design * scale[:, None], mean_r2 * scale)
    return CountModel(rate=rate, edge_var=float(coef[0]), item_var=float(coef[1]), bias_rel_sd=math.sqrt(coef[2]))


def _nnls(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Least squares with non-negative coefficients, by trying every subset of columns (three columns)."""
    best, best_cost = np.zeros(a.shape[1]), float(b @ b)
    k = a.shape[1]
    for mask in range(1, 1 << k):
        cols = [c for c in range(k) if mask >> c & 1]
        coef, *_ = np.linalg.lstsq(a[:, cols], b, rcond=None)
        if (coef < 0).any():
            continue
        full = np.zeros(k)
        full[cols] = coef
        cost = float(((a @ full - b) ** 2).sum())
        if cost < best_cost:
            best, best_cost = full, cost
    return best


def function_sql(measure: str, model: CountModel, z: float = Z90) -> list[str]:
    """CREATE OR REPLACE FUNCTION statements: footfall_<measure>_estimate, _lo and _hi of a measured count.

    SQL functions are global in ClickHouse (not per database), so the names carry footfall's prefix.
    """
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {', '.join(MEASURES)}, got {measure!r}")
    est = f"(n / {model.rate!r})"
    var = f"{model.edge_var!r} + {model.item_var!r} * {est} + pow({model.bias_rel_sd!r} * {est}, 2)"
    sd = f"(sqrt({var}) / {model.rate!r})"
    return [
        f"CREATE OR REPLACE FUNCTION footfall_{measure}_estimate AS (n) -> {est}",
        f"CREATE OR REPLACE FUNCTION footfall_{measure}_lo AS (n) -> greatest({est} - {z!r} * {sd}, 0)",
        f"CREATE OR REPLACE FUNCTION footfall_{measure}_hi AS (n) -> {est} + {z!r} * {sd}",
    ]


def install_functions(store: Store, profile: str = DEFAULT_PROFILE) -> None:
    """Create (or replace) the interval functions of every measure under a profile's parameters."""
    try:
        models = PROFILES[profile]
    except KeyError:
        raise ValueError(f"unknown error profile {profile!r}; known: {', '.join(sorted(PROFILES))}") from None
    for measure, model in models.items():
        for statement in function_sql(measure, model):
            store.execute(statement)
