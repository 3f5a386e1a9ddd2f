"""A LayoutPublished from a newer writer (fields this version does not know, at every level of the layout)
is applied by the zone processor from a real nats-server, not refused: its derived events equal those of
the same layout without the fields, nothing is dead-lettered, and the log keeps the original bytes for a
replay under newer code. The same layout given as a config file is refused, naming the unknown field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import nats
import pytest

import schemas
from ops.commands.edge import load_camera
from ops.simulation.scripted_scene import CAMERA, build_scene
from projections.migrations import migrate
from projections.runner import ProjectionRunner
from projections.store import ChdbStore
from projections.zones.processor import ZoneProcessor
from schemas.layout import AlertRule
from schemas.subjects import DLQ_STREAM, STREAM_OF_CHANNEL, Channel
from stream.embedded import EmbeddedNats
from stream.layouts import LayoutReader
from stream.provision import LogConfig, ensure_streams
from stream.publisher import Publisher

LAYOUT_STREAM = STREAM_OF_CHANNEL[Channel.LAYOUT]
DERIVED_STREAM = STREAM_OF_CHANNEL[Channel.ZONES]

# Fields a newer writer adds, unknown here: on the layout and inside a camera, a zone, a line and a rule.
NEWER = {
    "": {"future_floors": [{"level": 0, "name": "ground"}]},
    "cameras.0": {"future_fov_deg": 90.0},
    "zones.0": {"future_capacity": 40},
    "lines.0": {"future_height_m": 2.1},
    "rules.0": {"future_notify": {"channel": "webhook", "after_s": 30}},
}


def _scene() -> tuple[schemas.LayoutPublished, list[schemas.Event]]:
    scene = build_scene(seed=3, people=8, duration_s=240.0)
    published = scene.events[0]
    assert isinstance(published, schemas.LayoutPublished)
    rule = AlertRule(rule_id="crowd", zone_id="entrance", metric="occupancy", threshold=5.0)
    published = msgspec.structs.replace(published, layout=msgspec.structs.replace(published.layout, rules=(rule,)))
    return published, scene.events[1:]


def _newer_layout(published: schemas.LayoutPublished) -> dict[str, Any]:
    layout: dict[str, Any] = msgspec.json.decode(schemas.encode_json(published.layout))
    for place, extra in NEWER.items():
        node: Any = layout
        for part in place.split(".") if place else ():
            node = node[part] if isinstance(node, dict) else node[int(part)]
        node.update(extra)
    return layout


async def _publish_and_fold(url: str, store: ChdbStore, layout_payload: bytes, msg_id: str, events: list[Any]):  # type: ignore[no-untyped-def]
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await ensure_streams(js, LogConfig())
        await js.publish(f"ff.v1.{events[0].store_id}.layout", layout_payload, headers={"Nats-Msg-Id": msg_id})
        publisher = Publisher(js)
        for event in events:
            await publisher.publish(event)
        await publisher.flush()
        migrate(store)
        runner = ProjectionRunner(nc, store, ZoneProcessor(), batch=200)
        stats = await runner.run()
        derived = []
        last = int((await js.stream_info(DERIVED_STREAM)).state.last_seq or 0)
        for seq in range(1, last + 1):
            msg = await js.get_msg(DERIVED_STREAM, seq)
            derived.append((msg.headers or {}).get("Nats-Msg-Id"))
            derived.append(msg.data)
        dlq = int((await js.stream_info(DLQ_STREAM)).state.messages or 0)
        stored_layout = (await js.get_msg(LAYOUT_STREAM, 1)).data or b""
        read = await LayoutReader(js).read_new()
        return stats, runner.layout_versions, derived, dlq, stored_layout, read
    finally:
        await nc.close()


async def test_newer_layout_is_applied_from_the_log_not_dead_lettered(
    fresh_nats: EmbeddedNats, store: ChdbStore, tmp_path: Path
) -> None:
    published, events = _scene()
    doc: dict[str, Any] = msgspec.json.decode(schemas.encode_json(published))
    doc["layout"] = _newer_layout(published)
    newer_payload = msgspec.msgpack.encode(doc)

    newer = await _publish_and_fold(fresh_nats.url, store, newer_payload, published.event_id, events)
    plain_store = store.in_database(store.database + "_plain")
    with EmbeddedNats(tmp_path / "plain-nats") as plain_server:
        plain = await _publish_and_fold(
            plain_server.url, plain_store, schemas.encode(published), published.event_id, events
        )

    stats, versions, derived, dlq, stored_layout, read = newer
    assert stats.dead_lettered == 0 and dlq == 0
    assert versions == {1}
    assert read == [published]  # the known content, unknown fields ignored
    assert len(derived) > 0 and derived == plain[2], "the newer layout folded differently from the plain one"
    # The log keeps what the newer writer wrote: a replay under newer code reads the fields.
    assert stored_layout == newer_payload
    assert msgspec.msgpack.decode(stored_layout)["layout"]["zones"][0]["future_capacity"] == 40


def test_the_same_layout_as_a_config_file_is_refused_naming_the_field(tmp_path: Path) -> None:
    published, _ = _scene()
    newer = _newer_layout(published)
    path = tmp_path / "layout.json"
    path.write_bytes(msgspec.json.encode(newer))
    with pytest.raises(SystemExit, match=r"unknown field `future_floors` - at `\$\.future_floors`"):
        load_camera(path, CAMERA)
    only_zone = msgspec.json.decode(schemas.encode_json(published.layout))
    only_zone["zones"][0]["future_capacity"] = 40
    path.write_bytes(msgspec.json.encode(only_zone))
    with pytest.raises(SystemExit, match=r"`\$\.zones\[0\]\.future_capacity`, got 40"):
        load_camera(path, CAMERA)
    only_zone["zones"][0].pop("future_capacity")
    path.write_bytes(msgspec.json.encode(only_zone))
    assert load_camera(path, CAMERA) == published.layout.camera(CAMERA)
