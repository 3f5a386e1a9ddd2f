"""Layout config: unknown keys, degenerate polygons, singular homographies and dangling ids are refused."""

from __future__ import annotations

import msgspec
import pytest

import schemas
from schemas.samples import sample_layout

LAYOUT = msgspec.to_builtins(sample_layout())


def _layout_with(section: str, index: int, key: str, value: object) -> dict[str, object]:
    doc = msgspec.to_builtins(sample_layout())
    doc[section][index][key] = value
    return doc


BAD_LAYOUTS = [
    ("two-point polygon", _layout_with("zones", 0, "polygon", [[0, 0], [1, 1]]), "$.zones[0]", "at least 3 points"),
    (
        "bow-tie polygon",
        _layout_with("zones", 1, "polygon", [[0, 0], [2, 2], [2, 0], [0, 2]]),
        "$.zones[1]",
        "self-intersecting",
    ),
    ("collinear polygon", _layout_with("zones", 0, "polygon", [[0, 0], [1, 0], [2, 0]]), "$.zones[0]", "zero area"),
    (
        "singular homography",
        _layout_with("cameras", 0, "image_to_floor", [1, 2, 3, 2, 4, 6, 0, 0, 1]),
        "$.cameras[0]",
        "singular",
    ),
    ("all-zero homography", _layout_with("cameras", 0, "image_to_floor", [0] * 9), "$.cameras[0]", "singular"),
    ("eight numbers", _layout_with("cameras", 0, "image_to_floor", [1] * 8), "$.cameras[0].image_to_floor", "9"),
    ("unknown key", _layout_with("zones", 0, "colour", "red"), "$.zones[0]", "colour"),
    ("bad zone kind", _layout_with("zones", 0, "kind", "cellar"), "$.zones[0].kind", "'cellar'"),
    ("bad zone id", _layout_with("zones", 0, "zone_id", "Zone A"), "$.zones[0].zone_id", "'Zone A'"),
    ("rule to nowhere", _layout_with("rules", 0, "zone_id", "nowhere"), "$", "nowhere"),
    ("zero-length line", _layout_with("lines", 0, "b", [0.0, 1.0]), "$.lines[0]", "0.05 m"),
    (
        "too many vertices",
        _layout_with("zones", 0, "polygon", [[i % 7, i // 7] for i in range(1001)]),
        "$.zones[0].polygon",
        "length <= 1000",
    ),
    ("nan vertex", _layout_with("zones", 0, "polygon", [[0, 0], [1, float("nan")], [0, 1]]), "$.zones[0].polygon", ""),
]


@pytest.mark.parametrize(("doc", "path", "text"), [c[1:] for c in BAD_LAYOUTS], ids=[c[0] for c in BAD_LAYOUTS])
def test_bad_layout_is_refused_with_path(doc: dict[str, object], path: str, text: str) -> None:
    with pytest.raises(schemas.SchemaError) as info:
        schemas.convert(doc, schemas.StoreLayout)
    assert info.value.path.startswith(path)
    assert text in str(info.value)


def test_duplicate_zone_ids_are_refused() -> None:
    doc = msgspec.to_builtins(sample_layout())
    doc["zones"] = [*doc["zones"], dict(doc["zones"][0])]
    with pytest.raises(schemas.SchemaError, match="zone_id must be unique"):
        schemas.convert(doc, schemas.StoreLayout)


def test_layout_json_round_trip_and_unknown_top_level_key() -> None:
    layout = sample_layout()
    assert schemas.decode_layout_json(schemas.encode_json(layout)) == layout
    with pytest.raises(schemas.SchemaError, match="typo"):
        schemas.decode_layout_json(msgspec.json.encode(dict(LAYOUT, typo=1)))


def test_camera_lookup_names_known_cameras() -> None:
    with pytest.raises(KeyError, match="cam-entrance"):
        sample_layout().camera("cam-9")
