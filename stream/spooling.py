"""The edge's publisher: never loses an event to an outage it can outlast, never drops one silently.

`SpoolingPublisher` owns its NATS connection and has three states:

- direct: connected and the spool is empty. Events go straight to the log
  through a bounded in-flight window; nothing touches the disk.
- down: the log is unreachable. Events are appended to the on-disk spool
  (stream/spool.py); a background task reconnects with backoff.
- draining: connected again. The spool is published in order, still through
  the window, while new events keep being appended behind it; when every
  spooled record is acknowledged the publisher goes back to direct.

Order per subject (per camera) is kept across outages: the connection is
made with reconnection off, so nats-py never replays its own buffer behind
our back. On any loss (connection closed, an ack missing for ack_timeout_s,
a JetStream 503) the connection is dropped, every unacknowledged message
goes back to the spool in send order (in-memory ones appended first, spooled
ones by rewinding the read cursor), and the spool is drained from there.
JetStream stores a prefix of what one connection sent, so resending from
the first unacknowledged message gives duplicates (dropped by Nats-Msg-Id)
and then the rest, in order.

Durability: a spooled record survives a crash of this process; records in
the in-memory window when the process itself dies are lost with it.
When the spool is full its oldest segment is dropped and counted
(`events_dropped`), reported in EdgeStatus via `stamp()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path

import msgspec
import nats
import nats.errors
from nats.aio.client import Client as NatsClient

from schemas.events import EdgeStatus, Event
from stream.errors import LogError, LogUnavailable
from stream.publisher import MAX_PAYLOAD_BYTES, PublishResult, _AckedSender, _Entry, to_record
from stream.spool import FsyncPolicy, Spool, SpoolRecord


class PublisherState(enum.Enum):
    """Where a SpoolingPublisher's events go now."""

    DIRECT = "direct"
    DOWN = "down"
    DRAINING = "draining"


Servers = Sequence[str] | Callable[[], Sequence[str]]


class SpoolingPublisher(_AckedSender):
    """Publishes events to the log, spooling them on disk while it is unreachable (see the module doc).

    servers: NATS URLs, or a callable returning them at each (re)connect
    (e.g. to find a restarted embedded server). spool_dir: the spool's
    directory, one publisher process per directory. ack_timeout_s (seconds):
    an unacknowledged message older than this means the connection is lost.
    spool_max_bytes (bytes): the spool's bound. Call start() first, close() last.
    """

    def __init__(
        self,
        servers: Servers,
        spool_dir: Path,
        *,
        max_in_flight: int = 4096,
        max_payload_bytes: int = MAX_PAYLOAD_BYTES,
        ack_timeout_s: float = 5.0,
        spool_max_bytes: int = 256 << 20,
        spool_segment_bytes: int | None = None,
        fsync: FsyncPolicy = "interval",
        connect_timeout_s: float = 2.0,
        reconnect_wait_s: tuple[float, float] = (0.05, 2.0),
        drain_batch: int = 1000,
        name: str = "footfall-publisher",
    ) -> None:
        super().__init__(max_in_flight=max_in_flight, max_payload_bytes=max_payload_bytes, ack_timeout_s=ack_timeout_s)
        self._servers = servers
        self._spool = Spool(spool_dir, max_bytes=spool_max_bytes, segment_bytes=spool_segment_bytes, fsync=fsync)
        self._connect_timeout_s = connect_timeout_s
        self._reconnect_wait_s = reconnect_wait_s
        self._drain_batch = drain_batch
        self._name = name
        self._nc: NatsClient | None = None
        self.state = PublisherState.DOWN
        self._from_spool: deque[_Entry] = deque()  # spooled entries in flight, send order
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._closers: set[asyncio.Task[None]] = set()
        self.reconnects = 0
        self.last_error = ""

    # -- counters -------------------------------------------------------------------------------

    @property
    def events_spooled(self) -> int:
        """Events written to the spool since start (each counted once per outage that caught it)."""
        return self._spool.stats.appended

    @property
    def events_dropped(self) -> int:
        """Events lost because the spool was full (the oldest go first)."""
        return self._spool.stats.dropped

    @property
    def backlog(self) -> int:
        """Events in the spool not yet acknowledged by the log."""
        return self._spool.stats.backlog

    @property
    def spool(self) -> Spool:
        """The spool (its stats include torn bytes discarded and records recovered at open)."""
        return self._spool

    def stamp(self, status: EdgeStatus) -> EdgeStatus:
        """Return `status` with events_spooled and events_dropped filled in from this publisher."""
        return msgspec.structs.replace(status, events_spooled=self.events_spooled, events_dropped=self.events_dropped)

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> SpoolingPublisher:
        """Try to connect once and start the background task; an unreachable log is not an error."""
        if self._task is None:
            await self._connect()
            self._task = asyncio.create_task(self._run(), name=f"{self._name}-pump")
        return self

    async def close(self, timeout_s: float | None = 10.0) -> PublishResult:
        """Flush for up to timeout_s seconds (None: no flush), then stop; the spool keeps what is left."""
        try:
            if timeout_s is not None and self._task is not None:
                with contextlib.suppress(LogUnavailable):
                    await self.flush(timeout_s)
        finally:
            self._closing = True
            self._wake.set()
            if self._task is not None:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
                self._task = None
            self._reset("closing")
            if self._closers:
                await asyncio.gather(*self._closers, return_exceptions=True)
            self._spool.close()
        return self.result

    async def __aenter__(self) -> SpoolingPublisher:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- publishing -----------------------------------------------------------------------------

    async def publish(self, event: Event) -> None:
        """Send one event (direct), or append it to the spool (down, draining); PayloadTooLarge over the bound."""
        record = to_record(event, self._max_payload)
        await self.publish_record(record)

    async def publish_record(self, record: SpoolRecord) -> None:
        """Like publish() for an already encoded message."""
        while self.state is PublisherState.DIRECT:
            if self._room.is_set():
                nc = self._nc
                assert nc is not None
                entry = _Entry(record)
                try:
                    await self._send(nc, entry)
                except (nats.errors.Error, OSError) as exc:
                    self._lost(nc, f"publish failed: {type(exc).__name__}: {exc}")  # the entry is spooled with the rest
                return
            await self._wait(self._room)
        self._spool.append(record)
        self._wake.set()

    async def flush(self, timeout_s: float | None = None) -> PublishResult:
        """Wait until everything published so far is in the log (spool included).

        Raises LogUnavailable if that does not happen within timeout_s seconds
        (None waits for ever), LogError naming the first message the log refused.
        """
        if self._task is None:
            raise LogError("SpoolingPublisher.start() must be called before flush()")
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while self.state is not PublisherState.DIRECT or self._inflight or self._spool.stats.backlog:
            if deadline is not None and time.monotonic() >= deadline:
                raise LogUnavailable(
                    f"log not caught up within {timeout_s} s: state {self.state.value}, {len(self._inflight)} in "
                    f"flight, {self._spool.stats.backlog} spooled; last error: {self.last_error or 'none'}"
                )
            if self._task.done():
                self._task.result()  # re-raise what killed the background task
            await self._wait(self._idle)
        self._raise_failures()
        return self.result

    async def _wait(self, event: asyncio.Event) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout=self._tick_s())

    def _tick_s(self) -> float:
        return max(0.02, min(0.25, self._ack_timeout_s / 4))

    # -- connection management ------------------------------------------------------------------

    async def _connect(self) -> bool:
        servers = list(self._servers() if callable(self._servers) else self._servers)
        nc = NatsClient()

        async def on_closed() -> None:
            self._lost(nc, "connection closed")

        async def on_error(exc: Exception) -> None:
            self.last_error = f"{type(exc).__name__}: {exc}"

        try:
            await nc.connect(
                servers,
                name=self._name,
                allow_reconnect=False,  # we reconnect ourselves, so nats-py never replays a stale buffer
                connect_timeout=max(1, round(self._connect_timeout_s)),
                max_reconnect_attempts=1,  # nats-py reads 0 as unlimited; 1 means two tries
                reconnect_time_wait=0.02,  # type: ignore[arg-type]  # nats-py sleeps on it; a float works
                closed_cb=on_closed,
                disconnected_cb=on_closed,
                error_cb=on_error,
                pending_size=8 << 20,
            )
            await self._open_inbox(nc)
            # JetStream answers only once it has recovered its streams after a restart.
            await nc.request("$JS.API.INFO", b"", timeout=self._connect_timeout_s)
        except (nats.errors.Error, OSError, TimeoutError) as exc:
            self.last_error = f"connecting to {servers}: {type(exc).__name__}: {exc}"
            await self._close_quietly(nc)
            return False
        self._nc = nc
        self.state = PublisherState.DRAINING if self._spool.stats.backlog else PublisherState.DIRECT
        if self.state is PublisherState.DIRECT:
            self._room.set()
        return True

    def _lost(self, nc: NatsClient, reason: str) -> None:
        if nc is self._nc:
            self.last_error = reason
            self._reset(reason)

    def _reset(self, reason: str) -> None:
        """Drop the connection and put every unacknowledged message back in the spool, in send order."""
        nc, self._nc = self._nc, None
        if nc is not None:
            task = asyncio.get_running_loop().create_task(self._close_quietly(nc))
            self._closers.add(task)
            task.add_done_callback(self._closers.discard)
        self.state = PublisherState.DOWN
        pending = list(self._inflight.values())
        self._inflight.clear()
        direct = [e for e in pending if e.spool_start is None]
        spooled = [e for e in self._from_spool if not e.settled]
        self._from_spool.clear()
        if spooled:
            assert spooled[0].spool_start is not None
            self._spool.rewind(spooled[0].spool_start)
        for entry in direct:  # direct entries exist only while the spool is empty, so they go first
            self._spool.append(entry.record)
        self._room.set()
        self._idle.set()
        self._wake.set()

    async def _close_quietly(self, nc: NatsClient) -> None:
        with contextlib.suppress(nats.errors.Error, OSError, TimeoutError, asyncio.CancelledError):
            await nc.close()

    def _transient(self, token: str, entry: _Entry, reason: str) -> None:
        if self._nc is not None:
            self._lost(self._nc, reason)

    def _settle(self, token: str, entry: _Entry) -> None:
        super()._settle(token, entry)
        if entry.spool_end is None:
            return
        # Commit the acknowledged prefix of spooled messages, so the spool deletes what is safe in the log.
        last: _Entry | None = None
        count = 0
        while self._from_spool and self._from_spool[0].settled:
            last = self._from_spool.popleft()
            count += 1
        if last is not None:
            assert last.spool_end is not None
            self._spool.commit(last.spool_end, count)

    # -- the background task --------------------------------------------------------------------

    async def _run(self) -> None:
        wait_s = self._reconnect_wait_s[0]
        while not self._closing:
            if self._nc is None:
                if await self._connect():
                    wait_s = self._reconnect_wait_s[0]
                    self.reconnects += 1
                else:
                    await asyncio.sleep(wait_s)
                    wait_s = min(wait_s * 2, self._reconnect_wait_s[1])
                    continue
            overdue = self._oldest_overdue()
            if overdue is not None:
                self._lost(self._nc, f"no PubAck within {self._ack_timeout_s} s")  # type: ignore[arg-type]
                continue
            if self.state is PublisherState.DRAINING:
                await self._drain_step()
            else:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self._tick_s())

    async def _drain_step(self) -> None:
        nc = self._nc
        assert nc is not None
        if self._spool.at_end():
            if not self._from_spool:
                # Everything spooled is acknowledged and nothing new arrived: back to the fast path.
                self.state = PublisherState.DIRECT
                self._room.set()
                return
            await self._wait(self._idle)
            return
        room = self._max_in_flight - len(self._inflight)
        if room <= 0:
            await self._wait(self._room)
            return
        start = self._spool.cursor
        for end, record in self._spool.read(min(room, self._drain_batch)):
            entry = _Entry(record, spool_start=start, spool_end=end)
            start = end
            self._from_spool.append(entry)
            try:
                await self._send(nc, entry)
            except (nats.errors.Error, OSError) as exc:
                self._lost(nc, f"publish failed: {type(exc).__name__}: {exc}")
                return
            if nc is not self._nc:
                return  # lost while sending; _reset rewound the spool
