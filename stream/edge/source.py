"""Video sources for the edge: files, RTSP/HTTP streams and local devices, read through OpenCV.

A source yields `SourceFrame`s at the analysis rate. Files take their time from
the container (a configurable base time plus the frame's position); live sources
from the wall clock. A live source that drops is reopened with exponential
back-off; a file that ends, ends.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from stream.errors import LogError

NS_PER_S = 1_000_000_000


class SourceError(LogError):
    """A video source that cannot be opened, or a frame that cannot be used."""


@dataclass(frozen=True, slots=True)
class SourceFrame:
    """One decoded frame: index counts frames read from the source (0-based), ts_ns its time."""

    index: int
    ts_ns: int
    frame: npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """Where frames come from.

    uri: a file path, an rtsp:// / http(s):// URL, or a device number ("0").
    analysis_fps: frames analysed per second of source time (None: every frame).
    base_ts_ns: time of a file's first frame (ignored for live sources).
    reconnect_max_s: longest wait between reopen attempts of a live source.
    max_reconnects: give up after this many consecutive failed reopen attempts (None: never).
    """

    uri: str
    analysis_fps: float | None = None
    base_ts_ns: int = 0
    reconnect_max_s: float = 30.0
    max_reconnects: int | None = None

    @property
    def is_live(self) -> bool:
        return self.uri.isdigit() or re.match(r"^[a-z][a-z0-9+.-]*://", self.uri, re.IGNORECASE) is not None


def redact_uri(uri: str) -> str:
    """The URI without credentials (rtsp://user:pass@host -> rtsp://***@host), for logs and errors."""
    return re.sub(r"(?<=://)[^/@]+@", "***@", uri)


class VideoSource:
    """Iterate frames of one source at the analysis rate; `stop()` ends the iteration at the next frame."""

    def __init__(self, spec: SourceSpec, clock_ns: Callable[[], int] = time.time_ns) -> None:
        if spec.analysis_fps is not None and not spec.analysis_fps > 0:
            raise ValueError(f"analysis_fps must be > 0 frames per second, got {spec.analysis_fps!r}")
        self.spec = spec
        self._clock_ns = clock_ns
        self._stopped = False
        self.frames_read = 0
        self.reconnects = 0
        self.fps = 0.0
        self.frame_size: tuple[int, int] | None = None  # (width, height)

    def stop(self) -> None:
        self._stopped = True

    def _open(self) -> cv2.VideoCapture:
        uri = self.spec.uri
        cap = cv2.VideoCapture(int(uri)) if uri.isdigit() else cv2.VideoCapture(uri)
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"cannot open video source {redact_uri(uri)!r}")
        self.fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        return cap

    def frames(self) -> Iterator[SourceFrame]:
        """Yield frames to analyse; raises SourceError for a file that cannot be opened or a corrupt frame."""
        live = self.spec.is_live
        cap = self._open()
        step_ns = int(NS_PER_S / self.spec.analysis_fps) if self.spec.analysis_fps else 0
        next_due: int | None = None
        failures = 0
        try:
            while not self._stopped:
                ok, frame = cap.read()
                if not ok:
                    if not live:
                        return  # end of file
                    cap.release()
                    cap, failures = self._reopen(failures)
                    continue
                failures = 0
                index = self.frames_read
                self.frames_read += 1
                ts_ns = self._clock_ns() if live else self._file_ts(cap, index)
                self._check(frame, index)
                if step_ns:
                    # A tenth of a step of slack, so frame times rounded to the ns do not skip a due frame.
                    if next_due is not None and ts_ns < next_due - step_ns // 10:
                        continue
                    behind = next_due is None or ts_ns - next_due >= step_ns
                    next_due = ts_ns + step_ns if behind else next_due + step_ns  # type: ignore[operator]
                yield SourceFrame(index, ts_ns, np.asarray(frame, dtype=np.uint8))
        finally:
            cap.release()

    def _file_ts(self, cap: cv2.VideoCapture, index: int) -> int:
        # Frame index over the container's rate: deterministic, unlike CAP_PROP_POS_MSEC on some codecs.
        fps = self.fps if self.fps > 0 else 25.0
        return self.spec.base_ts_ns + round(index * NS_PER_S / fps)

    def _check(self, frame: object, index: int) -> None:
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            shape = getattr(frame, "shape", None)
            raise SourceError(f"corrupt frame {index} from {redact_uri(self.spec.uri)!r}: got {shape!r}")
        size = (int(frame.shape[1]), int(frame.shape[0]))
        if self.frame_size is None:
            self.frame_size = size
        elif size != self.frame_size:
            raise SourceError(
                f"corrupt frame {index} from {redact_uri(self.spec.uri)!r}: size {size} differs from {self.frame_size}"
            )

    def _reopen(self, failures: int) -> tuple[cv2.VideoCapture, int]:
        while not self._stopped:
            delay = min(self.spec.reconnect_max_s, 0.5 * 2**failures)
            time.sleep(delay)
            failures += 1
            self.reconnects += 1
            try:
                return self._open(), failures
            except SourceError:
                if self.spec.max_reconnects is not None and failures >= self.spec.max_reconnects:
                    raise
        raise SourceError("source stopped while reconnecting")
