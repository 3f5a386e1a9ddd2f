"""Layout evolution (DESIGN.md §2): a layout read from the log ignores fields unknown to this version, at
every level; the same layout given as a config file is refused at the first unknown key, naming its path
and value. The newer-writer vectors in schemas/vectors/evolution/ are shared with Go both ways."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import msgspec
import pytest

import schemas
from schemas.export import EVOLUTION_DIR, VECTORS_DIR, json_schemas
from schemas.samples import NEWER_LAYOUT_FIELDS, sample_events, sample_newer_layout_published

SAMPLE = next(e for e in sample_events() if isinstance(e, schemas.LayoutPublished))
NEWER = VECTORS_DIR / EVOLUTION_DIR / "layout_published_newer"
GO_NEWER = VECTORS_DIR / "go" / EVOLUTION_DIR / "layout_published_newer"

# Each unknown layout field as a config file's error names it: (dotted place in the event, JSON path in
# the layout file, the value it must show).
LAYOUT_LEVELS = [
    ("layout", "$.future_floors", "[{'level': 0, 'name': 'ground'}]"),
    ("layout.cameras.0", "$.cameras[0].future_fov_deg", "90.0"),
    ("layout.zones.1", "$.zones[1].future_capacity", "40"),
    ("layout.lines.0", "$.lines[0].future_height_m", "2.1"),
    ("layout.rules.0", "$.rules[0].future_notify", "{'channel': 'webhook', 'after_s': 30}"),
]


def _only(place: str) -> dict[str, Any]:
    """The sample event's builtins with just the unknown field(s) of one level added."""
    doc: dict[str, Any] = msgspec.to_builtins(SAMPLE)
    node: Any = doc
    for part in place.split("."):
        node = node[part] if isinstance(node, dict) else node[int(part)]
    node.update(NEWER_LAYOUT_FIELDS[place])
    return doc


def test_every_level_of_the_layout_has_an_unknown_field_in_the_vector() -> None:
    assert {place for place, _, _ in LAYOUT_LEVELS} == set(NEWER_LAYOUT_FIELDS) - {""}


@pytest.mark.parametrize("suffix", [".msgpack", ".json"])
def test_newer_layout_published_decodes_to_the_known_content(suffix: str) -> None:
    data = NEWER.with_suffix(suffix).read_bytes()
    raw = msgspec.json.decode(data) if suffix == ".json" else msgspec.msgpack.decode(data)
    assert raw["layout"]["zones"][1]["future_capacity"] == 40, "the vector lacks its newer fields"
    event = schemas.decode(data) if suffix == ".msgpack" else schemas.decode_json(data)
    assert event == SAMPLE


@pytest.mark.parametrize("suffix", [".msgpack", ".json"])
def test_go_written_newer_layout_published_decodes_to_the_same_content(suffix: str) -> None:
    path = GO_NEWER.with_suffix(suffix)
    assert path.exists(), f"Go did not write {path} (cd go-ingest && go run ./cmd/vectors)"
    data = path.read_bytes()
    event = schemas.decode(data) if suffix == ".msgpack" else schemas.decode_json(data)
    assert event == SAMPLE
    parse = msgspec.json.decode if suffix == ".json" else msgspec.msgpack.decode
    assert parse(data) == parse(NEWER.with_suffix(suffix).read_bytes()), "Go and Python newer vectors differ"


@pytest.mark.parametrize(("place", "path", "shown"), LAYOUT_LEVELS, ids=[p for p, _, _ in LAYOUT_LEVELS])
def test_unknown_field_at_each_level_is_ignored_in_the_event(place: str, path: str, shown: str) -> None:
    doc = _only(place)
    assert schemas.decode(msgspec.msgpack.encode(doc)) == SAMPLE
    assert schemas.decode_json(msgspec.json.encode(doc)) == SAMPLE
    assert schemas.convert(doc, schemas.LayoutPublished) == SAMPLE  # an event type: lenient


@pytest.mark.parametrize(("place", "path", "shown"), LAYOUT_LEVELS, ids=[p for p, _, _ in LAYOUT_LEVELS])
def test_unknown_field_at_each_level_is_refused_in_a_config_file(place: str, path: str, shown: str) -> None:
    layout = _only(place)["layout"]
    for load in (
        lambda: schemas.decode_layout_json(msgspec.json.encode(layout)),
        lambda: schemas.convert(layout, schemas.StoreLayout),
    ):
        with pytest.raises(schemas.SchemaError) as info:
            load()
        assert info.value.path == path
        assert f"unknown field `{path.rsplit('.', 1)[1]}`" in str(info.value)
        assert f"got {shown}" in str(info.value)


def test_newer_vector_layout_as_a_config_file_is_refused_at_its_first_unknown_key() -> None:
    layout = msgspec.json.decode(NEWER.with_suffix(".json").read_bytes())["layout"]
    with pytest.raises(schemas.SchemaError) as info:
        schemas.decode_layout_json(msgspec.json.encode(layout))
    assert info.value.path == "$.future_floors"  # an object's own keys first: Go's DecodeLayoutJSON names the same


def test_typo_in_a_config_file_names_the_path_and_value() -> None:
    layout = msgspec.to_builtins(SAMPLE.layout)
    zone = dict(layout["zones"][2])
    zone["kindd"] = zone.pop("kind")
    layout["zones"] = [*layout["zones"][:2], zone]
    with pytest.raises(schemas.SchemaError) as info:
        schemas.decode_layout_json(msgspec.json.encode(layout))
    assert str(info.value) == "Object contains unknown field `kindd` - at `$.zones[2].kindd`, got 'queue'"


def test_malformed_config_file_is_still_a_schema_error() -> None:
    with pytest.raises(schemas.SchemaError, match="malformed"):
        schemas.decode_layout_json(b'{"zones": [')
    with pytest.raises(schemas.SchemaError) as info:
        schemas.decode_layout_json(b'{"zones": 3}')
    assert info.value.path == "$.zones"


def test_sample_newer_layout_published_is_fresh_each_call() -> None:
    first = sample_newer_layout_published()
    copied = copy.deepcopy(first)
    first["layout"]["zones"][1]["future_capacity"] = 0
    assert sample_newer_layout_published() == copied


def test_json_schemas_close_the_config_and_leave_the_event_open() -> None:
    newer = msgspec.json.decode(NEWER.with_suffix(".json").read_bytes())
    event_schema, layout_schema = json_schemas()["layout_published"], json_schemas()["store_layout"]
    jsonschema.validate(newer, event_schema, cls=jsonschema.Draft202012Validator)
    with pytest.raises(jsonschema.ValidationError, match="future_fov_deg"):
        jsonschema.validate(newer["layout"], layout_schema, cls=jsonschema.Draft202012Validator)
    plain = msgspec.json.decode(schemas.encode_json(SAMPLE.layout))
    jsonschema.validate(plain, layout_schema, cls=jsonschema.Draft202012Validator)
