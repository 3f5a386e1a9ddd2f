"""A TCP relay that stands in for a store's WAN link to the hub, so a fault run can cut it and bring it back."""

from __future__ import annotations

import asyncio
import contextlib


class WanLink:
    """Relays 127.0.0.1:<port> to target_host:target_port; cut() drops every connection and refuses new ones.

    A cut resets the connections (the leaf sees its link go at once, as on a router reboot); a silent
    black hole would be found only by the leaf's pings, which is slower but loses nothing more.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.port = 0
        self.up = False
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._relays: set[asyncio.Task[object]] = set()

    @property
    def leaf_url(self) -> str:
        """The URL a leaf node's remote points at instead of the hub's leafnode port."""
        return f"nats-leaf://127.0.0.1:{self.port}"

    async def start(self) -> WanLink:
        """Listen (on a free port the first time, the same port after a cut)."""
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        self.up = True
        return self

    async def cut(self) -> None:
        """Close the listener and reset every relayed connection."""
        self.up = False
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        if server is not None:
            await server.wait_closed()

    async def restore(self) -> None:
        """Listen again on the same port: the leaf's next reconnect attempt gets through."""
        await self.start()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:  # kept, so close() can wait for it rather than leave it to be cancelled
            self._relays.add(task)
            task.add_done_callback(self._relays.discard)
        if not self.up:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            for w in (writer, up_writer):
                self._writers.discard(w)
                w.transport.abort()

    async def close(self) -> None:
        """Stop relaying for good, and wait for every relay to end."""
        await self.cut()
        if self._relays:
            await asyncio.wait(list(self._relays), timeout=5.0)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while chunk := await reader.read(1 << 16):
            writer.write(chunk)
            await writer.drain()
    writer.transport.abort()  # one side gone: the other goes too, as a broken link would
