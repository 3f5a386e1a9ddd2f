"""Reading the layout stream (FF_LAYOUT): small, kept forever, read in full and then followed."""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from schemas.codec import decode
from schemas.events import LayoutPublished
from schemas.subjects import STREAM_OF_CHANNEL, Channel

LAYOUT_STREAM = STREAM_OF_CHANNEL[Channel.LAYOUT]


class LayoutReader:
    """Returns the LayoutPublished events appended since the last call, in log order."""

    def __init__(self, js: JetStreamContext) -> None:
        self._js = js
        self._next_seq = 1

    @property
    def position(self) -> int:
        """The last FF_LAYOUT sequence read (0 before the first read)."""
        return self._next_seq - 1

    async def read_new(self, upto_seq: int | None = None) -> list[LayoutPublished]:
        """Read every layout message after the last one read, up to upto_seq if given.

        Raises SchemaError on a message that is not a valid event.
        """
        info = await self._js.stream_info(LAYOUT_STREAM)
        last = int(info.state.last_seq or 0)
        if upto_seq is not None:
            last = min(last, upto_seq)
        out = []
        while self._next_seq <= last:
            seq = self._next_seq
            self._next_seq += 1
            try:
                raw = await self._js.get_msg(LAYOUT_STREAM, seq)
            except NotFoundError:
                continue  # a gap left by a message the stream's limits removed
            event = decode(raw.data or b"")
            if isinstance(event, LayoutPublished):
                out.append(event)
        return out
