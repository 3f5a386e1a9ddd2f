"""What the log holds now: per stream messages, bytes, first/last sequence and time; per consumer its backlog."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import nats.errors
from nats.aio.client import Client as NatsClient
from nats.js.errors import APIError

from stream.errors import LogError, LogUnavailable
from stream.provision import stream_names


class ConsumerStatus(msgspec.Struct, frozen=True):
    """One consumer: num_pending not yet delivered, ack_pending delivered but not acked, redelivered counts."""

    name: str
    num_pending: int
    num_ack_pending: int
    num_redelivered: int
    durable: bool


class StreamStatus(msgspec.Struct, frozen=True):
    """One stream's state; times are ts_ns (ns since the Unix epoch, UTC), 0 when the stream is empty."""

    name: str
    exists: bool
    messages: int = 0
    bytes: int = 0
    first_seq: int = 0
    first_ts_ns: int = 0
    last_seq: int = 0
    last_ts_ns: int = 0
    consumers: tuple[ConsumerStatus, ...] = ()


class _State(msgspec.Struct):
    messages: int = 0
    bytes: int = 0
    first_seq: int = 0
    first_ts: str = ""
    last_seq: int = 0
    last_ts: str = ""


class _ApiError(msgspec.Struct):
    code: int = 0
    err_code: int = 0
    description: str = ""


class _StreamInfo(msgspec.Struct):
    state: _State | None = None
    error: _ApiError | None = None


_info_decoder = msgspec.json.Decoder(_StreamInfo)


def rfc3339_to_ns(value: str) -> int:
    """Parse an RFC 3339 time with up to 9 fractional digits into ts_ns; Go's zero time gives 0."""
    if not value or value.startswith("0001-01-01"):
        return 0
    text = value.replace("Z", "+00:00")
    head, frac, tz = text, "", "+00:00"
    if "." in text:
        head, rest = text.split(".", 1)
        digits = len(rest) - len(rest.lstrip("0123456789"))
        frac, tz = rest[:digits], rest[digits:]
    elif len(text) > 19:
        head, tz = text[:19], text[19:]
    base = datetime.fromisoformat(head + tz)
    return int(base.timestamp()) * 1_000_000_000 + int((frac + "000000000")[:9])


def ns_to_rfc3339(ts_ns: int) -> str:
    """Format ts_ns as RFC 3339 UTC with nanoseconds, the form JetStream accepts for start times."""
    seconds, nanos = divmod(ts_ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"


async def log_status(nc: NatsClient, *, timeout_s: float = 5.0) -> list[StreamStatus]:
    """Return the state of every footfall stream and its consumers (raises LogUnavailable if JetStream is silent)."""
    js = nc.jetstream(timeout=timeout_s)
    out = []
    for name in stream_names():
        try:
            # The raw API answer carries first_ts/last_ts, which nats-py's StreamState leaves out.
            reply = await nc.request(f"$JS.API.STREAM.INFO.{name}", b"", timeout=timeout_s)
        except (nats.errors.TimeoutError, nats.errors.NoRespondersError) as exc:
            raise LogUnavailable(f"reading status of {name}: JetStream did not answer ({type(exc).__name__})") from exc
        info = _info_decoder.decode(reply.data)
        if info.error is not None:
            if info.error.code == 404:
                out.append(StreamStatus(name, exists=False))
                continue
            raise LogError(f"reading status of {name}: {info.error.description} (code {info.error.err_code})")
        state = info.state or _State()
        try:
            consumers = await js.consumers_info(name)
        except APIError as exc:
            raise LogError(f"listing consumers of {name}: {exc.description or exc}") from exc
        except nats.errors.TimeoutError as exc:
            raise LogUnavailable(f"listing consumers of {name}: JetStream did not answer") from exc
        out.append(
            StreamStatus(
                name,
                exists=True,
                messages=state.messages,
                bytes=state.bytes,
                first_seq=state.first_seq,
                first_ts_ns=rfc3339_to_ns(state.first_ts),
                last_seq=state.last_seq,
                last_ts_ns=rfc3339_to_ns(state.last_ts),
                consumers=tuple(
                    ConsumerStatus(
                        name=c.name,
                        num_pending=int(c.num_pending or 0),
                        num_ack_pending=int(c.num_ack_pending or 0),
                        num_redelivered=int(c.num_redelivered or 0),
                        durable=bool(c.config.durable_name),
                    )
                    for c in sorted(consumers, key=lambda c: c.name)
                ),
            )
        )
    return out
