"""Golden vectors and JSON Schemas: regenerating changes nothing; the schemas are valid and accept the samples."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import msgspec
import pytest

import schemas
from schemas.export import VECTORS_DIR, export_json_schemas, json_schemas, vector_files
from schemas.samples import sample_values

GO_VECTORS = VECTORS_DIR / "go"


@pytest.mark.parametrize("name", sorted(vector_files()))
def test_regenerated_vector_is_identical(name: str) -> None:
    path = VECTORS_DIR / name
    assert path.exists(), f"{path} is missing: run `footfall schemas vectors --write` deliberately"
    assert path.read_bytes() == vector_files()[name], f"{name} changed: that is a wire change"


def test_vectors_decode_to_the_samples() -> None:
    for stem, value in sample_values().items():
        if stem == "store_layout":
            assert schemas.decode_layout_json((VECTORS_DIR / f"{stem}.json").read_bytes()) == value
            continue
        assert schemas.decode((VECTORS_DIR / f"{stem}.msgpack").read_bytes()) == value
        assert schemas.decode_json((VECTORS_DIR / f"{stem}.json").read_bytes()) == value


@pytest.mark.skipif(not GO_VECTORS.exists(), reason="no Go-written vectors in schemas/vectors/go yet")
@pytest.mark.parametrize("stem", sorted(sample_values()))
def test_go_written_vectors_decode_to_the_same_values(stem: str) -> None:
    path = GO_VECTORS / f"{stem}.msgpack"
    assert path.exists(), f"Go did not write {path}"
    data = path.read_bytes()
    expected = sample_values()[stem]
    if stem == "store_layout":
        assert msgspec.msgpack.decode(data, type=schemas.StoreLayout) == expected
    else:
        assert schemas.decode(data) == expected


@pytest.mark.parametrize(("tag", "schema"), sorted(json_schemas().items()))
def test_json_schema_is_valid_and_accepts_the_sample(tag: str, schema: dict[str, object]) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)
    sample = msgspec.json.decode((VECTORS_DIR / f"{tag}.json").read_bytes())
    jsonschema.validate(sample, schema, cls=jsonschema.Draft202012Validator)


def test_json_schema_rejects_a_bad_id() -> None:
    schema = json_schemas()["track_frame"]
    sample = msgspec.json.decode((VECTORS_DIR / "track_frame.json").read_bytes())
    sample["camera_id"] = "Not An Id"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(sample, schema, cls=jsonschema.Draft202012Validator)


def test_export_writes_one_file_per_type(tmp_path: Path) -> None:
    written = export_json_schemas(tmp_path / "out")
    assert {p.name for p in written} == {f"{tag}.schema.json" for tag in json_schemas()}
    assert len(written) == len(schemas.EVENT_TYPES) + 1
