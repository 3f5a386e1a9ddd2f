"""The edge runner: video in, anonymous TrackFrames out (DESIGN.md §2, §6)."""

from stream.edge.pipeline import CameraContext, CameraPipeline, FrameResult, new_edge_run_id
from stream.edge.runner import CameraJob, CameraReport, EdgeError, run_cameras
from stream.edge.source import SourceError, SourceFrame, SourceSpec, VideoSource, redact_uri

__all__ = [
    "CameraContext",
    "CameraJob",
    "CameraPipeline",
    "CameraReport",
    "EdgeError",
    "FrameResult",
    "SourceError",
    "SourceFrame",
    "SourceSpec",
    "VideoSource",
    "new_edge_run_id",
    "redact_uri",
    "run_cameras",
]
