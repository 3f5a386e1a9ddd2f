"""JSON Schema export and golden vectors, both written from the contract types."""

from __future__ import annotations

from pathlib import Path

import msgspec

from schemas.codec import decode_layout_json, encode_json
from schemas.errors import SchemaError
from schemas.events import EVENT_TYPES, event_tag
from schemas.layout import METRICS, SEVERITIES, StoreLayout
from schemas.samples import invalid_rule_layouts, sample_newer_layout_published, sample_values

VECTORS_DIR = Path(__file__).with_name("vectors")
# Vectors of messages from a newer writer (fields unknown to this version), kept out of the
# top level where every file is one event type's sample (the Go tests list those by tag).
EVOLUTION_DIR = "evolution"
# Layouts whose rules are invalid, with the path and reason of their refusal (shared with Go).
INVALID_RULES_FILE = "rules/invalid_layouts.json"
_msgpack = msgspec.msgpack.Encoder()


def json_schemas() -> dict[str, dict[str, object]]:
    """Return a JSON Schema (draft 2020-12) per event type and for StoreLayout, keyed by tag."""
    out: dict[str, dict[str, object]] = {}
    for event_type in EVENT_TYPES:
        out[event_tag(event_type)] = _with_dialect(msgspec.json.schema(event_type))
    out["store_layout"] = _strict_objects(_with_dialect(msgspec.json.schema(StoreLayout)))
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
    for stem, doc in evolution_values().items():
        files[f"{EVOLUTION_DIR}/{stem}.msgpack"] = _msgpack.encode(doc)
        files[f"{EVOLUTION_DIR}/{stem}.json"] = msgspec.json.encode(doc) + b"\n"
    files[INVALID_RULES_FILE] = msgspec.json.format(msgspec.json.encode(invalid_rule_cases()), indent=1) + b"\n"
    return files


def invalid_rule_cases() -> list[dict[str, object]]:
    """Each invalid-rule layout with the path and reason Python refuses it with (as a config file).

    go-ingest/contract's tests refuse each at the same path, with the same reason where the fault is a
    rule's cross-field check (a bound or format is worded by each side's decoder).
    """
    cases: list[dict[str, object]] = []
    for name, doc in invalid_rule_layouts().items():
        try:
            decode_layout_json(msgspec.json.encode(doc))
        except SchemaError as exc:
            cases.append({"name": name, "layout": doc, "path": exc.path, "reason": exc.reason})
        else:
            raise AssertionError(f"invalid rule case {name!r} was accepted")
    return cases


def evolution_values() -> dict[str, dict[str, object]]:
    """The newer-writer messages of `schemas/vectors/evolution/`, as builtins, keyed by file stem."""
    return {"layout_published_newer": sample_newer_layout_published()}


def write_vectors(directory: Path = VECTORS_DIR) -> list[Path]:
    """(Re)write the golden vectors; a change to their bytes is a wire change and must be deliberate."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in vector_files().items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        written.append(path)
    return written


def _strict_objects(schema: dict[str, object]) -> dict[str, object]:
    """Mark every object of a config schema closed (a layout file refuses unknown keys), metrics known.

    The types ignore unknown fields (a layout inside LayoutPublished is event content and stays
    open in the event schemas); config strictness is the codec's explicit pass, mirrored here.
    """
    defs = schema.get("$defs")
    if isinstance(defs, dict):
        for definition in defs.values():
            if isinstance(definition, dict) and definition.get("type") == "object":
                definition["additionalProperties"] = False
        # A config file names only the metrics and severities this version knows (on the wire they are
        # open strings, so an older reader keeps a newer writer's rule; schemas/layout.py METRICS).
        rule = defs.get("AlertRule")
        properties = rule.get("properties") if isinstance(rule, dict) else None
        if isinstance(properties, dict):
            for name, known in (("metric", METRICS), ("severity", SEVERITIES)):
                prop = properties.get(name)
                if isinstance(prop, dict):
                    prop["enum"] = list(known)
    return schema


def _with_dialect(schema: dict[str, object]) -> dict[str, object]:
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
