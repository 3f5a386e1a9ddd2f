"""The simulator's cameras: strips of the floor whose boundaries never cut the door line."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("count", [1, 2, 3, 4])
def test_camera_boundaries_keep_clear_of_the_door(count: int) -> None:
    from ml_core.sim.plan import default_plan
    from ops.simulate import DOOR_CLEARANCE_M, sim_cameras

    plan = default_plan()
    door_xs = sorted((plan.door[0][0], plan.door[1][0]))
    cameras = sim_cameras(plan, count)
    assert len(cameras) == count
    for camera in cameras[1:]:
        boundary = camera.x_range[0]
        assert not door_xs[0] - DOOR_CLEARANCE_M < boundary < door_xs[1] + DOOR_CLEARANCE_M
