"""Edge profiles: MOG2's is the edge's historical one, unchanged; NanoDet's is its own; names are checked."""

from __future__ import annotations

import pytest

from ml_core.edge import PROFILE_NAMES, edge_profile


def test_mog2_profile_is_the_edge_default_unchanged() -> None:
    from stream.edge.pipeline import edge_floor_gate_params, edge_relink_params, edge_tracker_params

    profile = edge_profile("mog2")
    assert profile.tracker_params(7.0) == edge_tracker_params(7.0)
    assert profile.tracker_params(10.0) == edge_tracker_params()
    assert profile.relink == edge_relink_params()
    assert profile.floor_gate == edge_floor_gate_params()


@pytest.mark.parametrize("name", PROFILE_NAMES)
def test_every_profile_builds_and_keeps_its_frame_rate(name: str) -> None:
    profile = edge_profile(name)
    assert profile.name == name
    assert profile.tracker_params(7.0).frame_rate == 7.0


def test_nanodet_profile_differs_from_mog2() -> None:
    assert edge_profile("nanodet").tracker != edge_profile("mog2").tracker


def test_unknown_profile_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown edge profile 'yolo'; expected one of \['mog2'"):
        edge_profile("yolo")
