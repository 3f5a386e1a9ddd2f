"""Connecting to the log with errors translated (callers never catch a nats-py exception type), with the
process's TLS and credentials (stream.client_auth)."""

from __future__ import annotations

import nats
import nats.errors
from nats.aio.client import Client as NatsClient

from stream.client_auth import client_options
from stream.errors import LogUnavailable


async def connect(url: str, *, name: str = "footfall", timeout_s: float = 5.0, **options: object) -> NatsClient:
    """Connect to the NATS server(s) at `url` (comma-separated URLs allowed); LogUnavailable if none answers."""
    servers = [u.strip() for u in url.split(",") if u.strip()]

    async def quiet(_exc: Exception) -> None:
        return None  # a failed connect is reported once, below, not logged per attempt by nats-py

    try:
        return await nats.connect(
            servers,
            name=name,
            connect_timeout=max(1, round(timeout_s)),
            max_reconnect_attempts=1,  # nats-py reads 0 as unlimited; 1 means two tries
            reconnect_time_wait=0.05,
            allow_reconnect=False,
            error_cb=quiet,
            **{**client_options(), **options},
        )
    except (nats.errors.Error, OSError, TimeoutError) as exc:
        raise LogUnavailable(f"cannot connect to {url}: {type(exc).__name__}: {exc}") from exc
