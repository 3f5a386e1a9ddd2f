"""The edge runner: one or more cameras, each read and analysed in its own thread, published in order.

Per camera, a worker thread pulls frames from the source and runs the pipeline
(OpenCV and ONNX Runtime release the GIL, so cameras run in parallel); its events
cross to the event loop through a bounded queue and are published in frame order.
`stop` (set on SIGTERM by the CLI) ends every camera at its next frame; open
tracks are closed, a last EdgeStatus is sent, the frame buffer is cleared, and
everything published is flushed.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from ml_core.detect import DetectorConfig, create_detector
from ml_core.geometry.floor_gate import FloorGateParams
from ml_core.privacy import FrameBuffer
from ml_core.track import ByteTrackParams, RelinkParams
from schemas.events import Event
from stream.edge.pipeline import (
    CameraContext,
    CameraPipeline,
    edge_floor_gate_params,
    edge_relink_params,
    edge_tracker_params,
)
from stream.edge.source import NS_PER_S, SourceError, SourceSpec, VideoSource, redact_uri
from stream.publisher import PublishResult

_DONE = object()


class EventPublisher(Protocol):
    """What the edge publishes through: stream.publisher.Publisher or stream.spooling.SpoolingPublisher."""

    async def publish(self, event: Event) -> None:
        """Send one event (or queue it: in flight, or spooled)."""
        ...

    async def flush(self) -> PublishResult:
        """Wait until everything published so far is in the log."""
        ...


@dataclass(frozen=True, slots=True)
class CameraJob:
    """Everything one camera needs: who it is, where its frames come from, how to analyse them.

    tracker, relink and floor_gate default to the edge profile (`stream.edge.pipeline.edge_*_params`);
    relink or floor_gate None switches that stage off. floor_gate: foot points whose feet are hidden
    behind a nearer person, or that step farther than slack_m (metres) + max_speed_m_s (metres per
    second) x elapsed seconds from the track's last published point, are published without a floor
    position (`FloorGateParams`).
    """

    context: CameraContext
    source: SourceSpec
    detector: DetectorConfig
    tracker: ByteTrackParams = field(default_factory=edge_tracker_params)
    relink: RelinkParams | None = field(default_factory=edge_relink_params)
    floor_gate: FloorGateParams | None = field(default_factory=edge_floor_gate_params)
    buffer_max_age_s: float = 60.0
    purge_interval_s: float = 1.0
    status_interval_s: float = 10.0


@dataclass(slots=True)
class CameraReport:
    """How one camera's run went: frames analysed, events published, and the error that ended it, if any."""

    camera_id: str
    edge_run_id: str
    frames: int = 0
    events: int = 0
    tracks_closed: int = 0
    buffer_purges: int = 0
    error: str | None = None


class EdgeError(SourceError):
    """A camera could not run (source, frame or calibration problem); names the camera."""


async def run_cameras(
    jobs: list[CameraJob],
    publisher: EventPublisher,
    stop: asyncio.Event | None = None,
    on_frame: Callable[[str, int], None] | None = None,
) -> list[CameraReport]:
    """Run every camera until its source ends or `stop` is set; flush and return one report per camera.

    A camera that fails (unopenable source, corrupt frame) ends with `error` set in its
    report; the others go on, and what it published before the failure stays published.
    """
    stop = stop if stop is not None else asyncio.Event()
    reports = await asyncio.gather(*(_run_one(job, publisher, stop, on_frame) for job in jobs))
    await publisher.flush()
    return list(reports)


async def _run_one(
    job: CameraJob, publisher: EventPublisher, stop: asyncio.Event, on_frame: Callable[[str, int], None] | None
) -> CameraReport:
    loop = asyncio.get_running_loop()
    report = CameraReport(job.context.camera_id, job.context.edge_run_id)
    queue: asyncio.Queue[object] = asyncio.Queue(maxsize=64)
    source = VideoSource(job.source)
    halt = threading.Event()

    def put(item: object) -> None:
        if not halt.is_set():
            asyncio.run_coroutine_threadsafe(queue.put(item), loop).result()

    def work() -> None:
        try:
            _analyse(job, source, put, halt)
        except Exception as exc:  # reported with the camera's name; the thread must always end the queue
            put(exc)
        finally:
            put(_DONE)

    thread = threading.Thread(target=work, name=f"edge-{job.context.camera_id}", daemon=True)
    thread.start()
    stop_waiter: asyncio.Task[object] = asyncio.create_task(_wait(stop))
    try:
        while True:
            getter = asyncio.create_task(queue.get())
            done, _ = await asyncio.wait({getter, stop_waiter}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                source.stop()  # the worker finishes its frame, closes tracks and sends a last status
                stop_waiter = asyncio.create_task(_wait(asyncio.Event()))
                continue
            item = getter.result()
            if item is _DONE:
                break
            if isinstance(item, Exception):
                report.error = f"camera {job.context.camera_id}: {type(item).__name__}: {item}"
                continue
            assert isinstance(item, _Batch)
            for event in item.events:
                await publisher.publish(event)
            report.events += len(item.events)
            report.tracks_closed += item.closed
            report.frames = item.frames
            report.buffer_purges = item.purges
            if on_frame is not None and item.frames:
                on_frame(job.context.camera_id, item.frames)
    finally:
        halt.set()
        source.stop()
        stop_waiter.cancel()
        while not queue.empty():  # unblock a worker waiting on a full queue
            queue.get_nowait()
        await asyncio.to_thread(thread.join, 10.0)
    return report


async def _wait(event: asyncio.Event) -> object:
    return await event.wait()


@dataclass(frozen=True, slots=True)
class _Batch:
    events: list[Event]
    frames: int
    closed: int
    purges: int


def _analyse(job: CameraJob, source: VideoSource, put: Callable[[object], None], halt: threading.Event) -> None:
    """The worker: source -> pipeline -> batches of events (runs in the camera's thread)."""
    pipeline: CameraPipeline | None = None
    last_ts = 0
    next_purge = next_status = 0
    try:
        for frame in source.frames():
            if halt.is_set():
                break
            if pipeline is None:
                pipeline = _pipeline(job, frame.frame.shape[0], frame.frame.shape[1])
                next_purge = frame.ts_ns + int(job.purge_interval_s * NS_PER_S)
                next_status = frame.ts_ns + int(job.status_interval_s * NS_PER_S)
            last_ts = frame.ts_ns
            _, events = pipeline.process(frame)
            closed = len(events) - 1
            if frame.ts_ns >= next_purge:
                pipeline.purge(frame.ts_ns)
                next_purge = frame.ts_ns + int(job.purge_interval_s * NS_PER_S)
            if frame.ts_ns >= next_status:
                events.append(pipeline.status(frame.ts_ns))
                next_status = frame.ts_ns + int(job.status_interval_s * NS_PER_S)
            put(_Batch(events, pipeline.frames_processed, closed, pipeline.buffer.purges))
    except SourceError as exc:
        if pipeline is None and source.frames_read == 0:
            raise EdgeError(f"camera {job.context.camera_id}: {exc}") from exc
        raise EdgeError(
            f"camera {job.context.camera_id}: {exc} (after {source.frames_read} frames from "
            f"{redact_uri(job.source.uri)!r}; frames before it were published)"
        ) from exc
    finally:
        if pipeline is not None:
            closing: list[Event] = list(pipeline.close_all(last_ts))
            pipeline.buffer.clear()
            closing.append(pipeline.status(last_ts))
            put(_Batch(closing, pipeline.frames_processed, len(closing) - 1, pipeline.buffer.purges))


def _pipeline(job: CameraJob, height: int, width: int) -> CameraPipeline:
    detector = create_detector(job.detector, job.context.image_to_floor_norm)
    detector.warm_up(height, width)
    return CameraPipeline(
        job.context,
        detector,
        tracker_params=job.tracker,
        buffer=FrameBuffer(max_age_s=job.buffer_max_age_s),
        relink_params=job.relink,
        floor_gate=job.floor_gate,
    )
