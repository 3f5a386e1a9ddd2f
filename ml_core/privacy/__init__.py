"""Privacy guards of the edge (DESIGN.md §6.2-6.3): the rolling frame buffer and blurred clip export."""

from ml_core.privacy.buffer import BufferedFrame, FrameBuffer
from ml_core.privacy.redact import BlurredFrame, blur_frame, head_regions, write_clip

__all__ = ["BlurredFrame", "BufferedFrame", "FrameBuffer", "blur_frame", "head_regions", "write_clip"]
