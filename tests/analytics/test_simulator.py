"""The simulator's cameras: overlapping strips of the floor whose view edges never come near the door line."""

from __future__ import annotations

import itertools

import pytest


@pytest.mark.parametrize(("count", "overlap_m"), [(1, 1.5), (2, 1.5), (3, 1.5), (4, 1.5), (3, 0.0), (2, 3.0)])
def test_camera_boundaries_keep_clear_of_the_door(count: int, overlap_m: float) -> None:
    from ml_core.sim.plan import default_plan
    from ops.simulation.simulate import DOOR_CLEARANCE_M, sim_cameras

    plan = default_plan()
    door_xs = sorted((plan.door[0][0], plan.door[1][0]))
    cameras = sim_cameras(plan, count, overlap_m)
    assert len(cameras) == count
    edges = [c.x_range[0] for c in cameras[1:]] + [c.x_range[1] for c in cameras[:-1]]
    for edge in edges:
        assert not door_xs[0] - DOOR_CLEARANCE_M < edge < door_xs[1] + DOOR_CLEARANCE_M
    for left, right in itertools.pairwise(cameras):
        assert left.x_range[1] - right.x_range[0] == pytest.approx(overlap_m)  # neighbours share the band
