"""Multi-object tracking for the edge: ByteTrack over numpy arrays with Numba kernels."""

from ml_core.track.bytetrack import ByteTrack, ByteTrackParams, validate_detections
from ml_core.track.relink import RelinkParams, TrackRelinker
from ml_core.track.types import Tracks, TrackState

__all__ = [
    "ByteTrack",
    "ByteTrackParams",
    "RelinkParams",
    "TrackRelinker",
    "TrackState",
    "Tracks",
    "validate_detections",
]
