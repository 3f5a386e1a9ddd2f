"""Restarting a hub stream's source from a store leaf as soon as the leaf is reachable again.

JetStream retries a stalled source on its own, but with a backoff of 10 s per
consecutive failure (capped at 2 minutes), counted over the whole outage:
measured here with nats-server 2.15.1, the hub began fetching 30 s after a
30 s cut and 45 s after a 60 s cut had ended, although the leaf was back
within a second. `SourceWatchdog` closes that gap: a source that has not been
heard from for stale_after_s seconds, whose leaf domain answers on its
JetStream API, is removed from the stream and added back. A re-added source
resumes after the last message the hub stored from it (JetStream reads the
position back from the stored messages' Nats-Stream-Source headers), and the
duplicate window drops anything fetched twice, so a kick neither loses nor
duplicates a message (the WAN cut test checks both).
"""

from __future__ import annotations

import asyncio
import contextlib

import msgspec
import nats.errors
from nats.aio.client import Client as NatsClient
from nats.js.errors import APIError

from stream.errors import LogUnavailable, ProvisionError


class _External(msgspec.Struct):
    api: str = ""


class _SourceState(msgspec.Struct):
    name: str
    filter_subject: str = ""
    external: _External | None = None
    active: int = -1  # nanoseconds since the source was last heard from; -1: never


class _StreamInfoReply(msgspec.Struct):
    sources: list[_SourceState] = msgspec.field(default_factory=list)


_info_decoder = msgspec.json.Decoder(_StreamInfoReply)


class SourceWatchdog:
    """Kicks stale sources of `streams` on the hub connection `nc` (see the module docstring).

    stale_after_s (seconds): silence after which a source counts as stalled (a live one hears flow-control
    heartbeats about every second). kicks counts the sources restarted.
    """

    def __init__(self, nc: NatsClient, streams: list[str], *, stale_after_s: float = 5.0, timeout_s: float = 2.0):
        self._nc = nc
        self._streams = streams
        self._stale_ns = int(stale_after_s * 1e9)
        self._timeout_s = timeout_s
        self.kicks = 0

    async def stale(self, stream: str) -> list[str]:
        """The external API prefixes ($JS.<domain>.API) of the stream's sources that have gone quiet."""
        try:
            reply = await self._nc.request(f"$JS.API.STREAM.INFO.{stream}", b"", timeout=self._timeout_s)
        except (nats.errors.Error, TimeoutError) as exc:
            raise LogUnavailable(f"reading stream {stream}'s sources: {type(exc).__name__}: {exc}") from exc
        info = _info_decoder.decode(reply.data)
        return [
            s.external.api
            for s in info.sources
            if s.external is not None and s.external.api and (s.active < 0 or s.active > self._stale_ns)
        ]

    async def reachable(self, api_prefix: str) -> bool:
        """Whether the JetStream behind api_prefix ($JS.<domain>.API) answers now."""
        try:
            await self._nc.request(f"{api_prefix}.INFO", b"", timeout=self._timeout_s)
        except (nats.errors.NoRespondersError, nats.errors.TimeoutError, TimeoutError):
            return False
        except nats.errors.Error as exc:
            raise LogUnavailable(f"asking {api_prefix}: {type(exc).__name__}: {exc}") from exc
        return True

    async def kick(self, stream: str, api_prefix: str) -> None:
        """Remove the stream's source(s) behind api_prefix and add them back: JetStream sets them up afresh."""
        js = self._nc.jetstream()
        try:
            config = (await js.stream_info(stream)).config
            sources = list(config.sources or [])
            others = [s for s in sources if s.external is None or s.external.api != api_prefix]
            if len(others) == len(sources):
                return  # the topology changed meanwhile
            await js.update_stream(config.evolve(sources=others or None))
            await js.update_stream(config.evolve(sources=sources))
        except APIError as exc:
            raise ProvisionError(f"restarting {stream}'s source {api_prefix}: {exc.description or exc}") from exc
        except (nats.errors.Error, TimeoutError) as exc:
            raise LogUnavailable(f"restarting {stream}'s source {api_prefix}: {type(exc).__name__}") from exc
        self.kicks += 1

    async def check_once(self) -> list[tuple[str, str]]:
        """Kick every stale source whose leaf answers; return (stream, api prefix) of each kicked."""
        kicked = []
        for stream in self._streams:
            for api_prefix in await self.stale(stream):
                if await self.reachable(api_prefix):
                    await self.kick(stream, api_prefix)
                    kicked.append((stream, api_prefix))
        return kicked

    async def run(self, stop: asyncio.Event, interval_s: float = 1.0) -> None:
        """check_once() every interval_s seconds until stop is set."""
        while not stop.is_set():
            await self.check_once()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_s)
