"""SQL through the process that owns the chDB directory, over a Unix socket in the data directory.

chDB lets one process open a data directory; `footfall project` holds it for
as long as it runs, so it answers queries on `<data-dir>/sql.sock` and
`footfall sql` sends them there. One request per connection: a MessagePack
SqlRequest in, a SqlResponse out, each prefixed by its length (4 bytes, big
endian). `footfall serve` also carries out replays sent here (ReplayRequest): it
answers with ReplayProgress frames while the build runs, then one ReplayDone
or ReplayFailed.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from projections.store import Store, StoreError

SOCKET_NAME = "sql.sock"
_MAX_BYTES = 256 << 20
_HEADER = struct.Struct(">I")
_S = TypeVar("_S", bound=msgspec.Struct)


class SqlRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag="sql"):
    query: str
    format: str = "PrettyCompactMonoBlock"


class ReplayRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag="replay"):
    projection: str
    from_seq: int = 1
    restart: bool = False


class ReplayProgress(msgspec.Struct, frozen=True, tag="progress"):
    seq: int
    stream_last_seq: int
    events: int
    elapsed_s: float


class ReplayDone(msgspec.Struct, frozen=True, tag="done"):
    summary: str


class ReplayFailed(msgspec.Struct, frozen=True, tag="failed"):
    error: str


ReplayFrame = ReplayProgress | ReplayDone | ReplayFailed
# Carries out a replay for the socket: yields progress frames, then one ReplayDone or ReplayFailed.
ReplayHandler = Callable[[ReplayRequest], AsyncIterator[ReplayFrame]]


class WhatIfJob(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag="whatif"):
    """`footfall whatif` carried out by the store's owner: the candidate layout (its JSON) over
    [from_ns, to_ns) of FF_TRACKS (ns), as projections.whatif and ops.whatif.run_whatif take them."""

    layout_json: bytes
    from_ns: int
    to_ns: int
    store_id: str | None = None
    ttl_s: float = 7 * 24 * 3600.0
    warmup_s: float = 0.0
    tail_s: float = 0.0


class WhatIfStep(msgspec.Struct, frozen=True, tag="whatif_progress"):
    first_seq: int
    seq: int
    stream_last_seq: int


class WhatIfDone(msgspec.Struct, frozen=True, tag="whatif_done"):
    """The report as `footfall whatif` prints it: its text table and its JSON."""

    text: str
    json: str


WhatIfFrame = WhatIfStep | WhatIfDone | ReplayFailed
WhatIfHandler = Callable[[WhatIfJob], AsyncIterator[WhatIfFrame]]


class SqlResponse(msgspec.Struct, frozen=True):
    ok: bool
    text: str = ""
    error: str = ""


def socket_path(data_dir: Path) -> Path:
    return data_dir / SOCKET_NAME


@contextlib.asynccontextmanager
async def serving(
    store: Store, data_dir: Path, replays: ReplayHandler | None = None, whatifs: WhatIfHandler | None = None
) -> AsyncIterator[Path | None]:
    """Answer SQL (and, given `replays` and `whatifs`, replays and what-ifs) on the data directory's socket
    while the block runs.

    Yields the socket's path, or None when it cannot be made (a Unix socket path is limited to
    about 100 bytes): the caller's work goes on, only `footfall sql` cannot reach it.
    """
    path = socket_path(data_dir)
    if len(str(path.resolve()).encode()) > 100:
        yield None
        return
    path.unlink(missing_ok=True)  # left by a killed owner: we hold the chDB lock, so it is stale

    async def _answer_job(request: ReplayRequest | WhatIfJob, writer: asyncio.StreamWriter) -> None:
        frames: AsyncIterator[ReplayFrame] | AsyncIterator[WhatIfFrame] | None
        if isinstance(request, ReplayRequest):
            frames = replays(request) if replays is not None else None
            refusal = ("this process (footfall project) cannot replay while it folds: stop it and run `footfall "
                       "replay`, or run the store under `footfall serve`, which replays while live")  # fmt: skip
        else:
            frames = whatifs(request) if whatifs is not None else None
            refusal = ("this process (footfall project) does not carry out what-ifs: stop it and run `footfall "
                       "whatif`, or run the store under `footfall serve`, which runs them while live")  # fmt: skip
        try:
            if frames is None:
                _write_frame(writer, ReplayFailed(refusal))
            else:
                async for frame in frames:
                    _write_frame(writer, frame)
                    await writer.drain()
            await writer.drain()
        except ConnectionError:
            pass  # the client went away; the replay went on to its end or its error
        finally:
            writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = msgspec.msgpack.decode(await _read_frame(reader), type=SqlRequest | ReplayRequest | WhatIfJob)
            if isinstance(request, ReplayRequest | WhatIfJob):
                await _answer_job(request, writer)
                return
            try:
                response = SqlResponse(True, text=store.query_text(request.query, request.format))
            except StoreError as exc:
                response = SqlResponse(False, error=str(exc))
        except (msgspec.ValidationError, msgspec.DecodeError, ValueError) as exc:
            response = SqlResponse(False, error=f"bad request: {exc}")
        except asyncio.IncompleteReadError:
            writer.close()
            return
        payload = msgspec.msgpack.encode(response)
        writer.write(_HEADER.pack(len(payload)) + payload)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    server = await asyncio.start_unix_server(handle, path=str(path))
    path.chmod(0o600)
    try:
        yield path
    finally:
        server.close()
        await server.wait_closed()
        path.unlink(missing_ok=True)


def _write_frame(writer: asyncio.StreamWriter, message: msgspec.Struct) -> None:
    payload = msgspec.msgpack.encode(message)
    writer.write(_HEADER.pack(len(payload)) + payload)


@contextlib.contextmanager
def owner_connection(data_dir: Path, timeout_s: float | None = None) -> Iterator[socket.socket | None]:
    """A connection to the process that owns data_dir's store, or None when none answers on its socket
    (none runs, or a socket file was left by a killed owner)."""
    path = socket_path(data_dir)
    if not path.exists():
        yield None
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout_s)
        try:
            sock.connect(str(path))
        except (ConnectionRefusedError, FileNotFoundError):
            yield None
            return
        yield sock


def replay_via_owner(
    data_dir: Path, request: ReplayRequest, progress: Callable[[ReplayProgress], None]
) -> ReplayDone | ReplayFailed | None:
    """Ask the owning process to replay; None when no process answers on the socket."""
    answer = _job_via_owner(data_dir, request, ReplayFrame, ReplayProgress, progress)
    assert answer is None or isinstance(answer, ReplayDone | ReplayFailed)
    return answer


def whatif_via_owner(
    data_dir: Path, job: WhatIfJob, progress: Callable[[WhatIfStep], None]
) -> WhatIfDone | ReplayFailed | None:
    """Ask the owning process to carry out a what-if; None when no process answers on the socket."""
    answer = _job_via_owner(data_dir, job, WhatIfFrame, WhatIfStep, progress)
    assert answer is None or isinstance(answer, WhatIfDone | ReplayFailed)
    return answer


def _job_via_owner(
    data_dir: Path, request: msgspec.Struct, frames: Any, step: type[_S], progress: Callable[[_S], None]
) -> object:
    """Send a job, hand its progress frames (of type `step`) to `progress` and return its last frame (one
    of `frames`); None when no process answers on the socket."""
    with owner_connection(data_dir) as sock:
        if sock is None:
            return None
        payload = msgspec.msgpack.encode(request)
        sock.sendall(_HEADER.pack(len(payload)) + payload)
        while True:
            frame = msgspec.msgpack.decode(_recv_frame(sock), type=frames)
            if isinstance(frame, step):
                progress(frame)
                continue
            return frame


def query_via_owner(data_dir: Path, query: str, fmt: str, timeout_s: float = 300.0) -> SqlResponse | None:
    """Send a query to the owning process; None when no process answers on the socket."""
    with owner_connection(data_dir, timeout_s) as sock:
        if sock is None:
            return None
        payload = msgspec.msgpack.encode(SqlRequest(query, fmt))
        sock.sendall(_HEADER.pack(len(payload)) + payload)
        data = _recv_frame(sock)
    return msgspec.msgpack.decode(data, type=SqlResponse)


async def _read_frame(reader: asyncio.StreamReader) -> bytes:
    (size,) = _HEADER.unpack(await reader.readexactly(_HEADER.size))
    if size > _MAX_BYTES:
        raise ValueError(f"request of {size} bytes is over the {_MAX_BYTES} byte limit")
    return await reader.readexactly(size)


def _recv_frame(sock: socket.socket) -> bytes:
    header = _recv_exactly(sock, _HEADER.size)
    (size,) = _HEADER.unpack(header)
    return _recv_exactly(sock, size)


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise ConnectionError("the owning process closed the connection mid-answer")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
