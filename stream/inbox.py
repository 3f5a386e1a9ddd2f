"""A subscription whose messages are handed over as bytes, in bulk, without nats-py's per-message work.

For every message, nats-py parses the headers into a dict, builds a Msg, and passes it through a
queue to a task that awaits the callback. When a JetStream pull fetches thousands of messages, that
costs more than reading the bytes off the socket. One measurement: 24,726 track frames (130 MB)
took 0.35-0.44 s through a callback, 0.21 s through an Inbox, and 0.24 s through the ordered
consumer that nats-py ships.

An Inbox takes its subscription's messages straight from the protocol parser and calls
`on_message(subject, reply, data)` or `on_status(subject, code, description)` synchronously, in wire
order. A status message is one whose header line carries a code, such as `NATS/1.0 404 No Messages`.
Both handlers run inside the client's read loop, so they must be quick and must not raise.

The hook is nats-py's `Client._process_msg(sid, subject, reply, data, headers)`: every message the
parser reads goes through that one call. It has kept this signature since headers arrived in nats-py
2.0, and pyproject.toml pins the 2.x range. The tests that fetch from a real server go through here.

Before that call, nats-py's parser spends more per message than everything after it: two regular
expressions on each control line, two copies of each payload, and an await. So the client's parser
also gets a fast path (`_FastParse`): the complete messages for Inboxes at the front of the parser's
buffer are found in one compiled pass (stream.wire.find_messages), copied out once each and handed over
directly. Anything else (a PING, an INFO,
a message for another subscription, a message not yet whole) is left to nats-py's own parser, state and
all, from that point of the buffer on.

Such a client also reads its socket in bigger pieces (READ_BYTES rather than nats-py's 32 KiB, and the
stream reader pauses the socket only past twice that): at 32 KiB, a pull of 130 MB went round the event
loop, and paused and resumed the socket, thousands of times. Measured on that pull: client CPU 0.21 s
against 0.17 s, wall 0.29 s against 0.25 s.

All of that leans on nats-py internals (`Client._ps`, the parser's `buf`/`state`/`parse`,
`AWAITING_CONTROL_LINE`, `MAX_CONTROL_LINE_SIZE`, `Client._process_msg`), so pyproject.toml pins the
nats-py releases it was tested with (TESTED_NATS) and `fast_path_problem` checks their shape when an
Inbox starts. When they do not look as expected, or FOOTFALL_NATS_FAST_PATH=0, an Inbox takes the
stock receive path instead (a callback subscription, the same handler calls in the same order) and
warns once per process.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import warnings
from collections.abc import Awaitable, Callable
from typing import Protocol

import nats.protocol.parser as nats_parser
import numpy as np
from nats.aio.client import Client as NatsClient
from nats.aio.client import __version__ as NATS_VERSION
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import Header

# nats-py releases whose parser the fast path was tested against: [first, last] as (major, minor).
# pyproject.toml pins the same range; anything else takes the stock path.
TESTED_NATS = ((2, 16), (2, 16))
# "0" switches the fast path off (the stock receive path): for tests, and for a user who suspects it.
FAST_PATH_ENV = "FOOTFALL_NATS_FAST_PATH"
_PROCESS_MSG_PARAMS = ["sid", "subject", "reply", "data", "headers"]

# Header block of a status message: b"NATS/1.0 <code> <description>\r\n...". A data message's
# block starts b"NATS/1.0\r\n", so the byte after the version tells the two apart.
_VERSION = b"NATS/1.0"
_PROCESS_MSG = "_process_msg"
_PARSE = "parse"
_SPACE = ord(" ")
_ROWS_PER_PASS = 256  # messages found per compiled call
READ_BYTES = 256 * 1024


class InboxHandler(Protocol):
    def on_message(self, subject: bytes, reply: bytes, data: bytes) -> None: ...

    def on_status(self, subject: bytes, code: str, description: str) -> None: ...


_ProcessMsg = Callable[[int, bytes, bytes, bytes, bytes | None], Awaitable[None]]


class _Dispatch:
    """Replaces one client's _process_msg: messages for a registered subscription id go to its handler."""

    def __init__(self, original: _ProcessMsg, stats: dict[str, int]) -> None:
        self.original = original
        self.handlers: dict[int, InboxHandler] = {}
        self._stats = stats

    async def __call__(self, sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes | None) -> None:
        handler = self.handlers.get(sid)
        if handler is None:
            await self.original(sid, subject, reply, data, headers)
            return
        self._stats["in_msgs"] += 1
        self._stats["in_bytes"] += len(data)
        if headers and _is_status(headers, 0, len(headers)):
            _status(handler, subject, headers)
        else:
            handler.on_message(subject, reply, data)


def _is_status(buf: bytes | bytearray, start: int, length: int) -> bool:
    """Whether the header block buf[start:start + length] is a status's (a code after the version)."""
    return length > len(_VERSION) and buf[start + len(_VERSION)] == _SPACE


def _status(handler: InboxHandler, subject: bytes, headers: bytes) -> None:
    line = headers.split(b"\r\n", 1)[0][len(_VERSION) + 1 :].decode(errors="replace")
    code, _, description = line.strip().partition(" ")
    handler.on_status(subject, code, description.strip())


class _FastParse:
    """Replaces one client's parser.parse: Inbox messages at the front of the buffer are handed over here.

    The parser's state (its buffer, and whether it is in the middle of a message) stays the parser's,
    so nats-py's parse takes over wherever this one stops, and a reconnect's reset() is seen here too.
    """

    def __init__(self, nc: NatsClient, dispatch: _Dispatch) -> None:
        self._nc = nc
        self._parser = nc._ps
        self._original = self._parser.parse
        self._handlers = dispatch.handlers
        self._stats = nc.stats
        self._transport: object = None
        self._read_in_bigger_pieces()
        from stream.wire import COLUMNS, OFFSETS, find_messages  # numba: loaded for a client that gets an Inbox

        self._find = find_messages
        self._offsets = OFFSETS
        self._rows = np.empty((_ROWS_PER_PASS, COLUMNS), dtype=np.int64)

    def _read_in_bigger_pieces(self) -> None:
        """Have the client's socket read READ_BYTES at a time (again after a reconnect's new transport)."""
        transport = self._nc._transport
        self._transport = transport
        reader = getattr(transport, "_io_reader", None)  # a TCP or TLS transport's asyncio.StreamReader
        read = getattr(transport, "read", None)
        if not isinstance(reader, asyncio.StreamReader) or read is None:
            return  # another transport (websocket): nats-py's own reads
        reader._limit = max(reader._limit, READ_BYTES)  # type: ignore[attr-defined] # it pauses the socket past 2x

        async def read_more(buffer_size: int) -> bytes:
            data: bytes = await read(max(buffer_size, READ_BYTES))
            return data

        transport.read = read_more  # type: ignore[method-assign,union-attr]

    async def __call__(self, data: bytes = b"") -> None:
        if self._nc._transport is not self._transport:
            self._read_in_bigger_pieces()
        parser = self._parser
        buf = parser.buf
        buf.extend(data)
        if parser.state != nats_parser.AWAITING_CONTROL_LINE or not self._handlers:
            await self._original()
            return
        pos, partial = self._take(buf)
        if pos:
            del buf[:pos]
        if buf and not partial:
            await self._original()  # whatever is not an Inbox message, from here on

    def _take(self, buf: bytearray) -> tuple[int, bool]:
        """Hand over the whole Inbox messages at the front of buf; return the bytes they took, and whether
        what follows them is the start of an Inbox message still arriving (left in the buffer for the next call)."""
        handlers = self._handlers
        sids = np.fromiter(handlers, dtype=np.int64, count=len(handlers))
        done = taken = in_bytes = 0
        partial = False
        whole = np.frombuffer(buf, dtype=np.uint8)  # exports buf until deleted below, as does the view
        try:
            with memoryview(buf) as view:
                while True:
                    count, length, partial = self._find(
                        whole[done:], sids, self._rows, nats_parser.MAX_CONTROL_LINE_SIZE
                    )
                    for subject, subject_len, reply, reply_len, headers, headers_len, payload, payload_len, sid in (
                        self._rows[:count] + self._offsets * done  # offsets into buf, not into whole[done:]
                    ).tolist():
                        handler = handlers[sid]
                        subject_bytes = view[subject : subject + subject_len].tobytes()
                        if _is_status(buf, headers, headers_len):
                            _status(handler, subject_bytes, view[headers : headers + headers_len].tobytes())
                        else:
                            handler.on_message(
                                subject_bytes,
                                view[reply : reply + reply_len].tobytes(),
                                view[payload : payload + payload_len].tobytes(),
                            )
                        in_bytes += payload_len
                    taken += count
                    done += length
                    if count < len(self._rows):
                        break
        finally:
            del whole
        self._stats["in_msgs"] += taken
        self._stats["in_bytes"] += in_bytes
        return done, partial


def fast_path_problem(nc: NatsClient) -> str | None:
    """Why the fast path cannot drive this client (a sentence), or None when it can.

    Checks what _Dispatch and _FastParse touch, so that an nats-py whose internals moved is met with
    the stock receive path rather than with lost or garbled messages.
    """
    if os.environ.get(FAST_PATH_ENV, "1").strip() == "0":
        return f"switched off by {FAST_PATH_ENV}=0"
    try:
        version = tuple(int(part) for part in NATS_VERSION.split(".")[:2])
    except ValueError:
        return f"nats-py version {NATS_VERSION!r} is not MAJOR.MINOR.PATCH"
    first, last = TESTED_NATS
    if not first <= version <= last:
        return f"nats-py {NATS_VERSION} is outside the tested {first[0]}.{first[1]} to {last[0]}.{last[1]}"
    if isinstance(nc.__dict__.get(_PROCESS_MSG), _Dispatch):
        return None  # this client runs the fast path already (its parse is a _FastParse now)
    for name in ("AWAITING_CONTROL_LINE", "MAX_CONTROL_LINE_SIZE"):
        if not isinstance(getattr(nats_parser, name, None), int):
            return f"nats.protocol.parser.{name} is missing or not an int"
    parser = getattr(nc, "_ps", None)
    if not isinstance(getattr(parser, "buf", None), bytearray) or not isinstance(getattr(parser, "state", None), int):
        return "the client's parser (Client._ps) has no bytearray buf and int state"
    if not inspect.iscoroutinefunction(getattr(parser, _PARSE, None)):
        return "the client's parser has no coroutine parse()"
    process = getattr(nc, _PROCESS_MSG, None)
    if process is None or list(inspect.signature(process).parameters) != _PROCESS_MSG_PARAMS:
        return f"Client._process_msg does not take ({', '.join(_PROCESS_MSG_PARAMS)})"
    return None


_warned = False


def _warn_stock_path(problem: str) -> None:
    global _warned  # noqa: PLW0603 -- one warning per process, not one per subscription
    if _warned or problem.startswith("switched off"):
        return
    _warned = True
    warnings.warn(f"stream.inbox: the stock nats-py receive path is used ({problem})", RuntimeWarning, stacklevel=3)


def _dispatch(nc: NatsClient) -> _Dispatch:
    current = nc.__dict__.get(_PROCESS_MSG)
    if isinstance(current, _Dispatch):
        return current
    dispatch = _Dispatch(getattr(nc, _PROCESS_MSG), nc.stats)
    setattr(nc, _PROCESS_MSG, dispatch)  # on this client only; other clients are untouched
    setattr(nc._ps, _PARSE, _FastParse(nc, dispatch))  # the same parser object: its state stays
    return dispatch


class Inbox:
    """A subscription to `subject` whose messages go to `handler` as bytes (see the module docstring)."""

    def __init__(self, nc: NatsClient, subject: str, handler: InboxHandler) -> None:
        self._nc = nc
        self.subject = subject
        self._handler = handler
        self._sub: Subscription | None = None
        self._fast = False

    @property
    def fast(self) -> bool:
        """Whether messages come through the fast path (False: the stock callback path)."""
        return self._fast

    async def start(self) -> None:
        problem = fast_path_problem(self._nc)
        self._fast = problem is None
        if problem is not None:
            _warn_stock_path(problem)
            # nats-py's own parser and per-subscription task: the same calls, in wire order.
            self._sub = await self._nc.subscribe(
                self.subject, cb=self._deliver, pending_msgs_limit=-1, pending_bytes_limit=-1
            )
            return
        dispatch = _dispatch(self._nc)
        # No callback: nats-py would queue messages for next_msg(), but every one is taken here first.
        # Nothing is sent to a new inbox before the caller asks for it, so no message can arrive
        # between the SUB and the handler's registration.
        self._sub = await self._nc.subscribe(self.subject, pending_msgs_limit=-1, pending_bytes_limit=-1)
        dispatch.handlers[self._sub._id] = self._handler

    async def stop(self) -> None:
        """Unsubscribe; messages still in flight for the subscription are dropped."""
        if self._sub is None:
            return
        sub, self._sub = self._sub, None
        if self._fast:
            _dispatch(self._nc).handlers.pop(sub._id, None)
        await sub.unsubscribe()

    async def _deliver(self, msg: Msg) -> None:
        """The stock path's callback: nats-py parsed a status line into the Status/Description headers."""
        headers = msg.headers
        code = headers.get(Header.STATUS.value) if headers else None
        if headers and code:
            self._handler.on_status(msg.subject.encode(), code, headers.get(Header.DESCRIPTION.value, "").strip())
        else:
            self._handler.on_message(msg.subject.encode(), msg.reply.encode(), msg.data)
