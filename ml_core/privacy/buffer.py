"""The in-memory rolling frame buffer: the only place frames live, never longer than max_age_s."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

NS_PER_S = 1_000_000_000


@dataclass(frozen=True, slots=True)
class BufferedFrame:
    """One analysed frame kept for incident review.

    frame: (H, W, 3) uint8 BGR pixels (never leave the process unblurred).
    person_boxes: (n, 4) float64 pixels, the people tracked in it (for blurring).
    ts_ns: the frame's time, ns since the epoch.
    """

    ts_ns: int
    frame: npt.NDArray[np.uint8]
    person_boxes: npt.NDArray[np.float64]


class FrameBuffer:
    """Frames of the last `max_age_s` seconds, in memory only; `purge` drops older ones.

    `purges` counts purge runs (scheduled or on push), attested in EdgeStatus.buffer_purges;
    `purged_frames` counts frames dropped. Time is the frames' own ts_ns.
    """

    def __init__(self, max_age_s: float = 60.0, max_frames: int = 10_000) -> None:
        if not max_age_s > 0:
            raise ValueError(f"max_age_s must be > 0 seconds, got {max_age_s!r}")
        if max_frames < 1:
            raise ValueError(f"max_frames must be >= 1, got {max_frames!r}")
        self.max_age_s = float(max_age_s)
        self.max_frames = int(max_frames)
        self._frames: deque[BufferedFrame] = deque()
        self.purges = 0
        self.purged_frames = 0

    def __len__(self) -> int:
        return len(self._frames)

    def push(self, ts_ns: int, frame: npt.NDArray[np.uint8], person_boxes: npt.ArrayLike) -> None:
        """Keep one frame (not copied: the caller must not modify it afterwards)."""
        boxes = np.asarray(person_boxes, dtype=np.float64).reshape(-1, 4)
        if self._frames and ts_ns < self._frames[-1].ts_ns:
            raise ValueError(f"frames must arrive in time order, got ts_ns {ts_ns} after {self._frames[-1].ts_ns}")
        self._frames.append(BufferedFrame(int(ts_ns), frame, boxes))
        while len(self._frames) > self.max_frames:
            self._frames.popleft()
            self.purged_frames += 1

    def purge(self, now_ns: int) -> int:
        """Drop every frame older than max_age_s at `now_ns`; return how many went. Counts as one purge."""
        limit = now_ns - int(self.max_age_s * NS_PER_S)
        dropped = 0
        while self._frames and self._frames[0].ts_ns < limit:
            self._frames.popleft()
            dropped += 1
        self.purges += 1
        self.purged_frames += dropped
        return dropped

    def clear(self) -> None:
        """Drop everything (on stop): frames never outlive the process's run."""
        self.purged_frames += len(self._frames)
        self._frames.clear()
        self.purges += 1

    def oldest_age_s(self, now_ns: int) -> float:
        """Age in seconds of the oldest frame held at `now_ns` (0 when empty)."""
        return (now_ns - self._frames[0].ts_ns) / NS_PER_S if self._frames else 0.0

    def window(self, start_ns: int, end_ns: int) -> list[BufferedFrame]:
        """Frames with start_ns <= ts_ns <= end_ns, oldest first."""
        return [f for f in self._frames if start_ns <= f.ts_ns <= end_ns]

    def last(self, seconds: float) -> list[BufferedFrame]:
        """Frames of the last `seconds` before the newest frame."""
        if not self._frames:
            return []
        end = self._frames[-1].ts_ns
        return self.window(end - int(seconds * NS_PER_S), end)
