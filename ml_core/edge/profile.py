"""Edge profiles: the tracker, re-linking and floor-gate settings that suit one detector's scores and boxes.

A classical detector (MOG2 blobs) and a CNN (NanoDet) fail differently: blobs merge, split and jump,
with scores that say little; a CNN's boxes are tight and its scores calibrated, and it misses people
mostly under occlusion. Each gets its own named profile, chosen on PETS09-S2L1 with
`footfall eval mot --video ... --detector NAME`; `edge_profile("mog2")` is the edge's historical
profile (`stream.edge.pipeline.edge_*_params`), unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from ml_core.geometry.floor_gate import FloorGateParams
from ml_core.track import ByteTrackParams, RelinkParams

ProfileName = Literal["mog2", "hog", "onnx", "nanodet"]
PROFILE_NAMES: tuple[ProfileName, ...] = ("mog2", "hog", "onnx", "nanodet")


@dataclass(frozen=True, slots=True)
class EdgeProfile:
    """The edge's settings after detection for one detector family.

    tracker: ByteTrack's thresholds; its frame_rate is set per camera by `tracker_params`.
    relink: floor-plane re-linking of lost tracks (None: off).
    floor_gate: which foot points lose their floor position (None: off).
    Foot points are the boxes' bottom centres for every profile (see `edge_profile`).
    """

    name: str
    tracker: ByteTrackParams
    relink: RelinkParams | None
    floor_gate: FloorGateParams | None

    def tracker_params(self, frame_rate: float) -> ByteTrackParams:
        """The tracker settings at `frame_rate` frames per second."""
        return replace(self.tracker, frame_rate=frame_rate)


def _classical() -> EdgeProfile:
    # Classical detectors give softer scores and longer gaps than a CNN: tracks start from score 0.5
    # (track_thresh 0.4 + 0.1) and wait 3 s when lost; the Kalman velocity noise stays ByteTrack's 1/160
    # of box height per frame (on MOG2's jumpy blob centres the frame-rate-scaled noise lets tracks swap).
    # Values and measurements: stream.edge.pipeline.edge_tracker_params / edge_relink_params /
    # edge_floor_gate_params, which this profile equals (a test checks it).
    return EdgeProfile(
        name="mog2",
        tracker=ByteTrackParams(track_thresh=0.4, track_buffer=90, frame_rate=10.0, std_weight_velocity=1 / 160),
        relink=RelinkParams(max_gap_s=2.0, max_distance_m=1.5, distance_per_s_m=1.0),
        floor_gate=FloorGateParams(drop_hidden_feet=True, max_speed_m_s=2.5, slack_m=0.5),
    )


def _nanodet() -> EdgeProfile:
    return EdgeProfile(
        name="nanodet",
        tracker=ByteTrackParams(track_thresh=0.5, low_thresh=0.1, track_buffer=30, frame_rate=10.0),
        relink=RelinkParams(max_gap_s=2.0, max_distance_m=1.5, distance_per_s_m=1.0),
        floor_gate=FloorGateParams(drop_hidden_feet=True, max_speed_m_s=2.5, slack_m=0.5),
    )


def edge_profile(name: str) -> EdgeProfile:
    """The named profile: "mog2" (also used for "hog" and YOLO "onnx" models) or "nanodet".

    Raises ValueError naming the profiles there are.
    """
    if name in ("mog2", "hog", "onnx"):
        profile = _classical()
        return profile if name == "mog2" else replace(profile, name=name)
    if name == "nanodet":
        return _nanodet()
    raise ValueError(f"unknown edge profile {name!r}; expected one of {list(PROFILE_NAMES)}")
