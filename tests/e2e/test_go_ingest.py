"""go-ingest end to end: events posted over HTTP come back from the stream decoded by the Python codec."""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import msgspec
import nats
import pytest

import schemas
from ops.go_ingest import running, write_token_file
from schemas.events import event_tag
from schemas.samples import sample_events
from schemas.subjects import Channel, channel_of
from stream.embedded import EmbeddedNats
from stream.provision import LogConfig, ensure_streams

pytestmark = pytest.mark.skipif(shutil.which("go") is None, reason="the Go toolchain is needed to build go-ingest")

EVENTS = sample_events()
STORE = "store-001"
# What go-ingest takes from outside; zone events and alerts are the processors' own (go-ingest/ingest/scope.go).
DERIVED = (Channel.ZONES, Channel.ALERTS)
SOURCES = [e for e in EVENTS if channel_of(type(e)) not in DERIVED]


@pytest.fixture()
def ingest(fresh_nats: EmbeddedNats, tmp_path: Path) -> Iterator[tuple[str, str, EmbeddedNats]]:
    async def provision() -> None:
        nc = await nats.connect(fresh_nats.url)
        await ensure_streams(nc.jetstream(), LogConfig())
        await nc.close()

    import asyncio

    asyncio.run(provision())
    token = write_token_file(tmp_path / "tokens.json", [STORE])
    with running(fresh_nats.url, tmp_path / "tokens.json") as base:
        yield base, token, fresh_nats


def _post(base: str, store: str, body: bytes, content_type: str, token: str | None) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(f"{base}/v1/stores/{store}/events", data=body, method="POST")
    request.add_header("Content-Type", content_type)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def test_posted_events_read_back_equal_through_the_python_codec(ingest: tuple[str, str, EmbeddedNats]) -> None:
    base, token, server = ingest
    body = msgspec.msgpack.encode({"events": [msgspec.to_builtins(e) for e in EVENTS]})
    status, response = _post(base, STORE, body, "application/msgpack", token)
    assert status == 200, response
    results = response["results"]
    assert isinstance(results, list)
    for result, event in zip(results, EVENTS, strict=True):  # derived events are refused, naming the type
        if channel_of(type(event)) in DERIVED:
            assert result["outcome"] == "rejected" and "derived events come from" in result["error"], result
            assert f'got "{event_tag(type(event))}"' in result["error"]
    results = [r for r in results if r["outcome"] != "rejected"]
    assert [r["outcome"] for r in results] == ["stored"] * len(SOURCES)
    assert [r["id"] for r in results] == [e.event_id for e in SOURCES]

    async def read_back() -> list[schemas.Event]:
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        out = []
        for result in results:
            msg = await js.get_msg(result["stream"], result["seq"])
            assert msg.headers is not None and msg.headers["Nats-Msg-Id"] == result["id"]
            assert msg.subject == schemas.subject_for(EVENTS[result["index"]])
            out.append(schemas.decode(msg.data or b""))
        await nc.close()
        return out

    import asyncio

    assert asyncio.run(read_back()) == SOURCES

    # The same batch again, as JSON: every event is a duplicate, nothing is stored twice.
    body = msgspec.json.encode([msgspec.to_builtins(e) for e in EVENTS])
    status, response = _post(base, STORE, body, "application/json", token)
    assert status == 200 and response["duplicate"] == len(SOURCES) and response["stored"] == 0


def test_bad_events_are_rejected_and_the_rest_stored(ingest: tuple[str, str, EmbeddedNats]) -> None:
    base, token, _ = ingest
    good = msgspec.to_builtins(EVENTS[-1])  # a PosTransaction
    bad_id = dict(good, transaction_id="Not Valid")
    unknown = dict(good, type="pos_refund")
    body = msgspec.json.encode({"events": [bad_id, unknown, dict(good, transaction_id="t-1")]})
    status, response = _post(base, STORE, body, "application/json", token)
    assert status == 200
    outcomes = [(r["outcome"], r.get("error", "")) for r in response["results"]]
    assert outcomes[0][0] == "rejected" and "$.transaction_id" in outcomes[0][1]
    assert outcomes[1][0] == "rejected"
    assert outcomes[2][0] == "stored"


@pytest.mark.parametrize(("store", "token_ok", "expected"), [(STORE, False, 401), ("store-002", True, 403)])
def test_auth(ingest: tuple[str, str, EmbeddedNats], store: str, token_ok: bool, expected: int) -> None:
    base, token, _ = ingest
    body = msgspec.json.encode({"events": []})
    status, _ = _post(base, store, body, "application/json", token if token_ok else None)
    assert status == expected
