"""JSON Schema export and golden vectors, both written from the contract types."""

from __future__ import annotations

from pathlib import Path

import msgspec

from schemas.codec import encode_json
from schemas.events import EVENT_TYPES, event_tag
from schemas.layout import StoreLayout
from schemas.samples import sample_values

VECTORS_DIR = Path(__file__).with_name("vectors")
_msgpack = msgspec.msgpack.Encoder()


def json_schemas() -> dict[str, dict[str, object]]:
    """Return a JSON Schema (draft 2020-12) per event type and for StoreLayout, keyed by tag."""
    out: dict[str, dict[str, object]] = {}
    for event_type in EVENT_TYPES:
        out[event_tag(event_type)] = _with_dialect(msgspec.json.schema(event_type))
    out["store_layout"] = _with_dialect(msgspec.json.schema(StoreLayout))
    return out


def export_json_schemas(directory: Path) -> list[Path]:
    """Write `<tag>.schema.json` for every type into `directory` (created if missing)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for tag, schema in json_schemas().items():
        path = directory / f"{tag}.schema.json"
        path.write_bytes(msgspec.json.format(msgspec.json.encode(schema), indent=2) + b"\n")
        written.append(path)
    return written


def vector_files() -> dict[str, bytes]:
    """Return the golden vectors' file names and contents: `<tag>.msgpack` and `<tag>.json` per sample."""
    files: dict[str, bytes] = {}
    for stem, value in sample_values().items():
        files[f"{stem}.msgpack"] = _msgpack.encode(value)
        files[f"{stem}.json"] = encode_json(value) + b"\n"
    return files


def write_vectors(directory: Path = VECTORS_DIR) -> list[Path]:
    """(Re)write the golden vectors; a change to their bytes is a wire change and must be deliberate."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in vector_files().items():
        path = directory / name
        path.write_bytes(content)
        written.append(path)
    return written


def _with_dialect(schema: dict[str, object]) -> dict[str, object]:
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
