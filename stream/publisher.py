"""Publishing events to the log with a bounded in-flight window and deterministic message ids."""

from __future__ import annotations

import asyncio

from nats.js import JetStreamContext
from nats.js import api as js_api

from schemas.codec import encode
from schemas.events import Event
from schemas.subjects import subject_for
from stream.errors import LogError, PayloadTooLarge

# Privacy bound (DESIGN.md §6.1): a frame of 200 tracks encodes to ~30 KiB;
# anything near a JPEG's size is refused, so pixels cannot ride along.
MAX_PAYLOAD_BYTES = 64 * 1024


class PublishResult:
    """Counts of what the log did with what was published: stored new, or dropped as duplicate."""

    __slots__ = ("duplicates", "stored")

    def __init__(self) -> None:
        self.stored = 0
        self.duplicates = 0


class Publisher:
    """Publishes events with Nats-Msg-Id = event_id, so a republished event is stored once.

    At most `max_in_flight` publishes await their acks; `flush()` waits for
    all of them and raises LogError if any failed.
    """

    def __init__(self, js: JetStreamContext, *, max_in_flight: int = 4096, max_payload_bytes: int = MAX_PAYLOAD_BYTES):
        self._js = js
        self._window = asyncio.Semaphore(max_in_flight)
        self._pending: set[asyncio.Future[js_api.PubAck]] = set()
        self._max_payload = max_payload_bytes
        self.result = PublishResult()
        self._failures: list[BaseException] = []

    async def publish(self, event: Event) -> None:
        """Queue one event; returns once it is in flight (waits while the window is full)."""
        payload = encode(event)
        if len(payload) > self._max_payload:
            raise PayloadTooLarge(
                f"{type(event).__name__} {event.event_id} encodes to {len(payload)} bytes, "
                f"over the privacy bound of {self._max_payload} bytes"
            )
        await self._window.acquire()
        try:
            future = await self._js.publish_async(subject_for(event), payload, headers={"Nats-Msg-Id": event.event_id})
        except BaseException:
            self._window.release()
            raise
        self._pending.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: asyncio.Future[js_api.PubAck]) -> None:
        self._pending.discard(future)
        self._window.release()
        if future.cancelled():
            self._failures.append(asyncio.CancelledError())
            return
        exc = future.exception()
        if exc is not None:
            self._failures.append(exc)
        elif future.result().duplicate:
            self.result.duplicates += 1
        else:
            self.result.stored += 1

    async def flush(self) -> PublishResult:
        """Wait for every in-flight publish; raise LogError naming the first failure."""
        while self._pending:
            await asyncio.wait(list(self._pending))
        if self._failures:
            first, count = self._failures[0], len(self._failures)
            self._failures.clear()
            raise LogError(f"{count} publish(es) failed; first: {type(first).__name__}: {first}")
        return self.result
