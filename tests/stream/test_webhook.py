"""The webhook forwarder in-process, against a real nats-server and a local HTTP receiver.

Signatures, the idempotency key, retries on 503/429, a 400 dead-lettered and acked, order kept, and a
second forwarder on the same durable sending only what the first did not.
"""

from __future__ import annotations

import asyncio
import random
import re
from pathlib import Path

import pytest
from nats.js import JetStreamContext

from schemas.codec import decode, decode_json
from schemas.events import AlertCleared, AlertRaised
from stream.consumer import DLQ_REASON_HEADER
from stream.embedded import EmbeddedNats
from stream.provision import LogConfig, ensure_streams
from stream.publisher import Publisher
from stream.webhook import (
    EVENT_TYPE_HEADER,
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    Backoff,
    ForwardEvent,
    WebhookConfig,
    WebhookConfigError,
    WebhookForwarder,
    load_secret,
    sign,
    verify,
)
from tests.stream.webhook_receiver import Receiver

SECRET = b"s3cret-for-tests"
TS0 = 1_767_225_600_000_000_000


def alerts(n: int, store: str = "store-1", start: int = 0) -> list[AlertRaised | AlertCleared]:
    """n alerts, raised and cleared in turn, one second apart."""
    out: list[AlertRaised | AlertCleared] = []
    for i in range(start, start + n):
        kind = AlertRaised if i % 2 == 0 else AlertCleared
        out.append(kind(store_id=store, ts_ns=TS0 + i * 10**9, rule_id=f"rule-{i // 2}", zone_id="checkout",
                        value=7.0 + i, threshold=6.0, processor_version="test-1"))  # fmt: skip
    return out


async def publish(js: JetStreamContext, events: list[AlertRaised | AlertCleared]) -> None:
    publisher = Publisher(js)
    for event in events:
        await publisher.publish(event)
    await publisher.flush()


def test_signature_is_hmac_sha256_of_the_body() -> None:
    body = b"what do ya want for nothing?"  # RFC 4231, test case 2
    assert sign(b"Jefe", body) == "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert verify(b"Jefe", body, sign(b"Jefe", body))
    assert not verify(b"other", body, sign(b"Jefe", body))


def test_secret_file_must_exist_and_hold_something(tmp_path: Path) -> None:
    with pytest.raises(WebhookConfigError, match=re.escape(str(tmp_path / "missing"))):
        load_secret(tmp_path / "missing")
    (tmp_path / "blank").write_text(" \n")
    with pytest.raises(WebhookConfigError, match=r"blank.*empty"):
        load_secret(tmp_path / "blank")
    with pytest.raises(WebhookConfigError, match="directory"):
        load_secret(tmp_path)
    (tmp_path / "ok").write_text("abc\n")
    assert load_secret(tmp_path / "ok") == b"abc"


def test_backoff_doubles_up_to_the_cap_with_jitter() -> None:
    backoff = Backoff(0.5, 4.0, random.Random(7))
    waits = [backoff.delay(n) for n in range(8)]
    for n, wait in enumerate(waits):
        ceiling = min(4.0, 0.5 * 2**n)
        assert ceiling / 2 <= wait <= ceiling
    assert backoff.delay(0, at_least_s=100.0) == 4.0  # Retry-After never beyond the cap
    again = Backoff(0.5, 4.0, random.Random(7))
    assert [again.delay(n) for n in range(8)] == waits  # seeded: the same waits


async def test_forwards_signed_in_order_retries_and_dead_letters(
    fresh_nats: EmbeddedNats, js: JetStreamContext
) -> None:
    await ensure_streams(js, LogConfig())
    first = alerts(6)
    await publish(js, first)
    events: list[ForwardEvent] = []
    with Receiver() as receiver:
        # alert 0: 503, 503, then 204; alert 1: 204; alert 2: 400 (refused); alert 3: 429 then 204; 4, 5: 204.
        for status in (503, 503, 204, 204, 400, 429):
            receiver.script(status, 1)
        config = WebhookConfig(receiver.url, SECRET, store="store-1", durable="hook-test", backoff_initial_s=0.01,
                               backoff_max_s=0.05, ack_wait_s=5.0, seed=3)  # fmt: skip
        stop = asyncio.Event()
        forwarder = WebhookForwarder(fresh_nats.url, config, report=events.append)
        task = asyncio.create_task(forwarder.run(stop))
        want = {e.event_id for e in first} - {first[2].event_id}
        await asyncio.to_thread(receiver.wait_for, lambda: receiver.delivered_keys() >= want)
        stop.set()
        stats = await asyncio.wait_for(task, 10)
        requests = receiver.snapshot()

        assert [r.status for r in requests] == [503, 503, 204, 204, 400, 429, 204, 204, 204]
        assert stats.delivered == 5 and stats.dead_lettered == 1 and stats.retries == 3
        order = [r.headers[IDEMPOTENCY_HEADER] for r in requests if r.status == 204]
        assert order == [e.event_id for i, e in enumerate(first) if i != 2]  # log order, one alert at a time
        for request in requests:
            assert request.path == "/hooks/alerts"
            assert request.headers["Content-Type"] == "application/json"
            assert verify(SECRET, request.body, request.headers[SIGNATURE_HEADER])
            event = decode_json(request.body)
            assert event.event_id == request.headers[IDEMPOTENCY_HEADER]
            assert request.headers[EVENT_TYPE_HEADER] == ("alert_raised" if isinstance(event, AlertRaised)
                                                          else "alert_cleared")  # fmt: skip
        assert event in first
        assert [e.kind for e in events if e.kind != "connected"] == [
            "retry", "retry", "delivered", "delivered", "dead_lettered", "retry", "delivered", "delivered", "delivered",
        ]  # fmt: skip

        dead = await js.get_last_msg("FF_DLQ", "ff.dlq.v1.hook-test")
        assert dead.headers is not None and dead.headers[DLQ_REASON_HEADER].startswith("webhook answered 400")
        assert decode(dead.data or b"") == first[2]

        # A second forwarder on the same durable: only what was published since, nothing repeated.
        later = alerts(3, start=6)
        await publish(js, later)
        await publish(js, alerts(2, store="store-2"))  # another store's alerts are not this forwarder's
        stop = asyncio.Event()
        task = asyncio.create_task(WebhookForwarder(fresh_nats.url, config).run(stop))
        await asyncio.to_thread(receiver.wait_for, lambda: len(receiver.snapshot()) >= len(requests) + 3)
        await asyncio.sleep(0.3)
        stop.set()
        await asyncio.wait_for(task, 10)
        again = receiver.snapshot()[len(requests) :]
        assert [r.headers[IDEMPOTENCY_HEADER] for r in again] == [e.event_id for e in later]
