"""Live tiles from the log: derived zone events and alerts pushed to browsers as server-sent events.

One NATS connection subscribes to every store's derived subjects (`ff.v1.*.zones`, `ff.v1.*.alerts`,
FF_DERIVED and FF_ALERTS), so a live tile costs no SQL at all. Messages of a store nobody watches are not
decoded. Each browser has a `Watcher` that coalesces what arrived since its last send (the newest
occupancy, the newest sample of each queue, how many visits ended, the alerts in order): a catching-up
zone processor publishes thousands of samples a second, a browser gets at most one message per
`min_interval_s` and memory stays bounded whatever the rate.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import msgspec
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from schemas.codec import decode
from schemas.errors import SchemaError
from schemas.events import AlertCleared, AlertRaised, OccupancySampled, QueueSampled, VisitEnded

SUBJECTS = ("ff.v1.*.zones", "ff.v1.*.alerts")
_MAX_ALERTS = 100  # per send: a watcher that falls this far behind keeps the newest
_KEEPALIVE_S = 15.0


class LiveOccupancy(msgspec.Struct):
    people: int
    ts_ms: int


class LiveQueue(msgspec.Struct):
    zone_id: str
    queue_length: int
    est_wait_s: float
    ts_ms: int


class LiveAlert(msgspec.Struct):
    state: str  # raised or cleared
    rule_id: str
    zone_id: str | None
    value: float
    threshold: float
    ts_ms: int


class LiveUpdate(msgspec.Struct, omit_defaults=True):
    """What changed since the last update: `visits_ended` counts customer visits (staff excluded) that ended,
    with the newest one's time `visits_ts_ms`."""

    occupancy: LiveOccupancy | None = None
    queues: list[LiveQueue] = []
    visits_ended: int = 0
    visits_ts_ms: int = 0
    alerts: list[LiveAlert] = []


class Watcher:
    """One browser's pending update for one store."""

    def __init__(self, store_id: str) -> None:
        self.store_id = store_id
        self._pending = LiveUpdate()
        self._queues: dict[str, LiveQueue] = {}
        self._changed = asyncio.Event()

    def add(self, event: object) -> None:
        p = self._pending
        if isinstance(event, OccupancySampled):
            if event.zone_id is None:
                p.occupancy = LiveOccupancy(event.people, event.ts_ns // 1_000_000)
        elif isinstance(event, QueueSampled):
            self._queues[event.zone_id] = LiveQueue(event.zone_id, event.queue_length, round(event.est_wait_s, 1),
                                                    event.ts_ns // 1_000_000)  # fmt: skip
        elif isinstance(event, VisitEnded):
            if event.is_staff:
                return
            p.visits_ended += 1
            p.visits_ts_ms = max(p.visits_ts_ms, event.ts_ns // 1_000_000)
        elif isinstance(event, AlertRaised | AlertCleared):
            state = "raised" if isinstance(event, AlertRaised) else "cleared"
            p.alerts.append(LiveAlert(state, event.rule_id, event.zone_id, event.value, event.threshold,
                                      event.ts_ns // 1_000_000))  # fmt: skip
            del p.alerts[:-_MAX_ALERTS]
        else:
            return
        self._changed.set()

    def wake(self) -> None:
        self._changed.set()

    async def next(self, timeout_s: float) -> LiveUpdate | None:
        """The update gathered so far once something arrived, None after `timeout_s` of nothing."""
        try:
            await asyncio.wait_for(self._changed.wait(), timeout_s)
        except TimeoutError:
            return None
        self._changed.clear()
        update, self._pending = self._pending, LiveUpdate()
        update.queues = sorted(self._queues.values(), key=lambda q: q.zone_id)
        self._queues = {}
        return update


class LiveFeed:
    """Subscribes once to the derived subjects and hands each event to the watchers of its store."""

    def __init__(self, nc: NatsClient, min_interval_s: float = 0.25) -> None:
        self._nc = nc
        self._min_interval_s = min_interval_s
        self._watchers: dict[str, set[Watcher]] = {}
        self._closed = asyncio.Event()
        self.decode_errors = 0

    def close(self) -> None:
        """End every stream (serve is draining)."""
        self._closed.set()
        for watchers in self._watchers.values():
            for watcher in watchers:
                watcher.wake()

    async def start(self) -> None:
        for subject in SUBJECTS:
            await self._nc.subscribe(subject, cb=self._on_message)

    async def _on_message(self, msg: Msg) -> None:
        parts = msg.subject.split(".")
        watchers = self._watchers.get(parts[2]) if len(parts) == 4 else None
        if not watchers:
            return
        try:
            event = decode(msg.data)
        except SchemaError:
            self.decode_errors += 1  # the projections send it to the DLQ; a live tile just skips it
            return
        for watcher in list(watchers):
            watcher.add(event)

    @contextlib.contextmanager
    def watch(self, store_id: str) -> Iterator[Watcher]:
        watcher = Watcher(store_id)
        self._watchers.setdefault(store_id, set()).add(watcher)
        try:
            yield watcher
        finally:
            self._watchers[store_id].discard(watcher)

    async def stream(self, store_id: str) -> AsyncIterator[bytes]:
        """Server-sent events for `store_id`: `event: update` with a LiveUpdate as JSON, comments to keep alive."""
        with self.watch(store_id) as watcher:
            yield b"retry: 2000\n: connected\n\n"
            while not self._closed.is_set():
                update = await watcher.next(_KEEPALIVE_S)
                if self._closed.is_set():
                    return
                if update is None:
                    yield b": keep-alive\n\n"
                else:
                    yield b"event: update\ndata: " + msgspec.json.encode(update) + b"\n\n"
                await asyncio.sleep(self._min_interval_s)
