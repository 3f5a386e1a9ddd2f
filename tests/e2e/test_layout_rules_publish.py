"""A layout with a bad alert rule is not published: go-ingest (the layout publish path) refuses it naming the
rule and field, and FF_LAYOUT on a real nats-server holds nothing; a layout with a rule of every metric is stored
and reads back equal through the Python codec."""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import msgspec
import pytest
from nats.js import JetStreamContext

import schemas
from ops.go_ingest import running, write_token_file
from schemas.samples import sample_events
from stream.embedded import EmbeddedNats
from stream.layouts import LAYOUT_STREAM, LayoutReader
from stream.provision import LogConfig, ensure_streams

pytestmark = pytest.mark.skipif(shutil.which("go") is None, reason="the Go toolchain is needed to build go-ingest")

STORE = "store-001"
LAYOUT_EVENT = next(e for e in sample_events() if isinstance(e, schemas.LayoutPublished))
BAD_RULES = [
    ("zone_id", "queu", "zone_id 'queu' is not a zone of this layout"),
    ("threshold", -1.0, "threshold: Expected `float`"),
    ("metric", "footfall", "metric 'footfall' is not a known metric"),
]


def _post(base: str, token: str, events: list[Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{base}/v1/stores/{STORE}/events", data=msgspec.json.encode({"events": events}), method="POST"
    )
    request.add_header("Content-Type", "application/json")
    request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            body: dict[str, Any] = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        body = {"status": exc.code, **json.loads(exc.read() or b"{}")}
    return body


async def _layout_messages(js: JetStreamContext) -> int:
    info = await js.stream_info(LAYOUT_STREAM)
    return int(info.state.messages)


async def test_layout_with_bad_rule_is_not_published(
    fresh_nats: EmbeddedNats, js: JetStreamContext, tmp_path: Path
) -> None:
    await ensure_streams(js, LogConfig())
    token = write_token_file(tmp_path / "tokens.json", [STORE])
    with running(fresh_nats.url, tmp_path / "tokens.json") as base:
        for field, value, reason in BAD_RULES:
            doc: dict[str, Any] = msgspec.to_builtins(LAYOUT_EVENT)
            doc["layout"]["rules"][0][field] = value
            # The config-file path refuses the same layout at the same field, naming the rule.
            with pytest.raises(schemas.SchemaError) as info:
                schemas.decode_layout_json(msgspec.json.encode(doc["layout"]))
            assert info.value.path == f"$.rules[0].{field}"
            assert info.value.reason.startswith("rules[0] (rule_id 'long-queue'): ")

            response = _post(base, token, [doc])
            (result,) = response["results"]
            assert result["outcome"] == "rejected", response
            assert "rules[0] (rule_id 'long-queue'): " in result["error"], result
            assert reason in result["error"] and f"$.layout.rules[0].{field}" in result["error"], result
            assert await _layout_messages(js) == 0

        response = _post(base, token, [msgspec.to_builtins(LAYOUT_EVENT)])
        assert [r["outcome"] for r in response["results"]] == ["stored"], response
    assert await _layout_messages(js) == 1
    (read,) = await LayoutReader(js).read_new()
    assert read == LAYOUT_EVENT
    assert sorted(r.metric for r in read.layout.rules) == sorted(schemas.layout.METRICS)
    assert read.layout.time_zone == "Europe/Paris"
