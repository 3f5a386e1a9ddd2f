"""The heatmap's compiled fold: the same presence however the log is batched, whichever path a batch takes
(columns parsed from the log's bytes, or events), and a snapshot that restores to the same state."""

from __future__ import annotations

from collections import defaultdict

import pytest

from ml_core.sim.agents import ShopperConfig
from ml_core.sim.noise import REALISTIC
from ops.simulation.simulate import simulate_day
from projections.columns import TrackBatch
from projections.heatmap import HeatmapProjection
from projections.layouts import LayoutHistory
from projections.projection import SeqEvent
from schemas.codec import encode


def _fold(events: list[SeqEvent], layouts: dict[str, LayoutHistory], batch: int, from_log: bool) -> tuple[
    dict[tuple[object, ...], int], bytes
]:  # fmt: skip
    presence: dict[tuple[object, ...], int] = defaultdict(int)
    projection = HeatmapProjection()
    for start in range(0, len(events), batch):
        part = events[start : start + batch]
        if from_log:
            columns, rejected = TrackBatch.from_payloads([e.stream_seq for e in part], [encode(e.event) for e in part])
            assert not rejected
            result = projection.fold_tracks(columns, layouts)
        else:
            result = projection.fold(part, layouts)
        rows = result.rows["heatmap"].to_pydict()
        for *key, seconds in zip(rows["bucket_start"], rows["cell_x"], rows["cell_y"], rows["track"],
                                 rows["presence_s"], strict=True):  # fmt: skip
            presence[tuple(key)] += round(seconds * 1e9)
        snapshot = projection.snapshot()
        projection = HeatmapProjection()
        projection.restore(snapshot)
        assert projection.snapshot() == snapshot
    return dict(presence), projection.snapshot()


@pytest.mark.parametrize("cameras", [1, 3])
def test_presence_is_the_same_however_the_log_is_batched(cameras: int) -> None:
    day = simulate_day(1, shopper=ShopperConfig(duration_s=600.0), noise=REALISTIC, cameras=cameras)
    history = LayoutHistory(day.layout.store_id)
    history.add(day.layout)
    layouts = {day.layout.store_id: history}
    events = [SeqEvent(i + 1, e) for i, e in enumerate(day.events)]
    reference, end = _fold(events, layouts, len(events), from_log=False)
    assert reference and sum(reference.values()) > 0
    for batch, from_log in ((97, True), (1000, False), (5000, True)):
        assert _fold(events, layouts, batch, from_log) == (reference, end), (batch, from_log)
