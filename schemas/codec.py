"""The one MessagePack and JSON codec for events and layouts, built once at import.

Errors from msgspec become SchemaError with the JSON path and, where the raw
message can still be parsed, the offending value.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec
import msgspec.inspect as mi

from schemas.errors import SchemaError
from schemas.events import AnyEvent, Event, TrackFrame
from schemas.layout import AlertRule, Config, StoreLayout, config_rule_fault

T = TypeVar("T")


_msgpack_encoder = msgspec.msgpack.Encoder()
_json_encoder = msgspec.json.Encoder()
_msgpack_event_decoder = msgspec.msgpack.Decoder(AnyEvent)
_json_event_decoder = msgspec.json.Decoder(AnyEvent)
_msgpack_frame_decoder = msgspec.msgpack.Decoder(TrackFrame)
_json_layout_decoder = msgspec.json.Decoder(StoreLayout)

_PATH_RE = re.compile(r" - at `(\$[^`]*)`$")
# A layout's own checks name the rule (or time_zone) and field in the reason; the path points at them.
_RULE_REASON_RE = re.compile(r"^rules\[(\d+)\] \(rule_id '[^']*'\): ([a-z_]+) ")
_TIME_ZONE_REASON_RE = re.compile(r"^time_zone ")
_RULE_PATH_RE = re.compile(r"\.rules\[(\d+)\]")
_TOKEN_RE = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")


def encode(event: Event) -> bytes:
    """Encode an event as MessagePack (map form, field names kept)."""
    return _msgpack_encoder.encode(event)


def encode_json(value: msgspec.Struct) -> bytes:
    """Encode an event or config value as JSON."""
    return _json_encoder.encode(value)


def decode(data: bytes) -> AnyEvent:
    """Decode any event from MessagePack; raise SchemaError naming the path and value on bad input."""
    return _decode(_msgpack_event_decoder.decode, data, msgspec.msgpack.decode)


def decode_json(data: bytes | str) -> AnyEvent:
    """Decode any event from JSON; raise SchemaError naming the path and value on bad input."""
    return _decode(_json_event_decoder.decode, data, msgspec.json.decode)


def decode_track_frame(data: bytes) -> TrackFrame:
    """Decode a MessagePack TrackFrame only (the hot path of replays); other tags are an error."""
    return _decode(_msgpack_frame_decoder.decode, data, msgspec.msgpack.decode)


def decode_layout_json(data: bytes | str) -> StoreLayout:
    """Decode a store layout config file from JSON: unknown keys at any level are an error.

    The layout types themselves ignore unknown fields (a layout inside a `LayoutPublished`
    read from the log must survive newer writers, DESIGN.md §2), so the strictness of
    config input is this explicit pass over the parsed document first.
    """
    try:
        raw = msgspec.json.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise _translate(exc, data, None) from None
    check_known_fields(raw, StoreLayout)
    layout = _decode(_json_layout_decoder.decode, data, msgspec.json.decode)
    check_config_rules(layout, raw)
    return layout


def _decode(decode_raw: Callable[[Any], T], data: bytes | str, parse: Any) -> T:
    try:
        return decode_raw(data)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise _translate(exc, data, parse) from None


def convert(obj: Any, type_: type[T]) -> T:
    """Validate already-parsed builtins (a dict from YAML or a test) into a contract type.

    A config type (a layout type) is config input here: unknown keys are an error, as in
    decode_layout_json. An event type ignores them, as decode does.
    """
    if isinstance(type_, type) and issubclass(type_, Config):
        check_known_fields(obj, type_)
    try:
        value = msgspec.convert(obj, type_)
    except msgspec.ValidationError as exc:
        raise _translate(exc, obj, None) from None
    if isinstance(value, (StoreLayout, AlertRule)):
        check_config_rules(value, obj)
    return value


def check_config_rules(value: StoreLayout | AlertRule, raw: Any = None) -> None:
    """Raise SchemaError if a rule names a metric or severity this version does not know.

    Config input only: the types keep such a rule (a newer writer's layout read from the log,
    DESIGN.md §2); a config file or a layout this version is asked to publish must not carry it.
    `raw` is the parsed document, for the offending value.
    """
    if isinstance(value, AlertRule):
        rule_fault = config_rule_fault(value)
        if rule_fault is not None:
            field, reason = rule_fault
            raise SchemaError(
                f"rule_id {value.rule_id!r}: {field} {reason}", f"$.{field}", getattr(value, field), has_value=True
            )
        return
    fault = value.config_fault()
    if fault is not None:
        i, field, reason = fault
        raise SchemaError(reason, f"$.rules[{i}].{field}", getattr(value.rules[i], field), has_value=True)


def check_known_fields(obj: Any, type_: type[msgspec.Struct]) -> None:
    """Raise SchemaError naming the path and value of the first key in `obj` that `type_` does not declare.

    `obj` is parsed builtins (dicts, lists); the check walks it against the struct's fields at every
    nesting level (layout, cameras, zones, lines, rules) and leaves everything else (types, bounds,
    missing fields) to the decoder, so a malformed document passes through here untouched.
    """
    _check_known(obj, _type_info(type_), "$")


@functools.cache
def _type_info(type_: type[msgspec.Struct]) -> mi.Type:
    return mi.type_info(type_)


def _check_known(obj: Any, info: mi.Type, path: str) -> None:
    while isinstance(info, mi.Metadata):
        info = info.type
    if isinstance(info, mi.StructType):
        if not isinstance(obj, dict):
            return
        fields = {f.encode_name: f.type for f in info.fields}
        # An object's own keys before its children's, as go-ingest/contract does (the same first error).
        for key, value in obj.items():
            if key not in fields and not (info.tag_field is not None and key == info.tag_field):
                raise SchemaError(f"Object contains unknown field `{key}`", f"{path}.{key}", value, has_value=True)
        for key, value in obj.items():
            if key in fields:
                _check_known(value, fields[key], f"{path}.{key}")
    elif isinstance(info, (mi.ListType, mi.VarTupleType, mi.SetType, mi.FrozenSetType)):
        if isinstance(obj, (list, tuple)):
            for i, item in enumerate(obj):
                _check_known(item, info.item_type, f"{path}[{i}]")
    elif isinstance(info, mi.TupleType):
        if isinstance(obj, (list, tuple)):
            for i, (item, item_info) in enumerate(zip(obj, info.item_types, strict=False)):
                _check_known(item, item_info, f"{path}[{i}]")
    elif isinstance(info, mi.DictType):
        if isinstance(obj, dict):
            for key, value in obj.items():
                _check_known(value, info.value_type, f"{path}.{key}")
    elif isinstance(info, mi.UnionType):
        structs = [t for t in info.types if isinstance(t, mi.StructType)]
        if isinstance(obj, dict) and structs:
            tagged = [t for t in structs if t.tag_field is not None and obj.get(t.tag_field) == t.tag]
            if tagged or len(structs) == 1:
                _check_known(obj, (tagged or structs)[0], path)


def _translate(exc: Exception, data: Any, parse: Any) -> SchemaError:
    if isinstance(exc, UnicodeDecodeError):
        # msgspec lets invalid UTF-8 inside a string through as Python's own error, without a path.
        return SchemaError(f"malformed message: a string is not valid UTF-8 ({exc.reason} at byte {exc.start})")
    message = str(exc)
    match = _PATH_RE.search(message)
    if match is None:
        if not isinstance(exc, msgspec.ValidationError):
            return SchemaError(f"malformed message: {message}", "$")
        reason, path = message, "$"  # msgspec names no path for the top level
    else:
        reason, path = message[: match.start()], match.group(1)
    rule = _RULE_REASON_RE.match(reason)
    if rule is not None:
        path = f"{path}.rules[{rule.group(1)}].{rule.group(2)}"
    elif _TIME_ZONE_REASON_RE.match(reason):
        path = f"{path}.time_zone"
    elif match is None:
        return SchemaError(reason, path)
    raw = data
    if parse is not None:
        try:
            raw = parse(data)
        except (msgspec.DecodeError, ValueError, RecursionError):
            return SchemaError(reason, path)
    reason = _name_rule(reason, raw, path)
    found, value = _lookup(raw, path)
    if found and repr(value) in reason:  # msgspec already named it ("Invalid value 'x'")
        found = False
    return SchemaError(reason, path, value, has_value=found)


def _name_rule(reason: str, raw: Any, path: str) -> str:
    """Prefix an error inside a layout's rule (`$.rules[2].threshold`) with the rule's index, id and field."""
    match = _RULE_PATH_RE.search(path)
    if match is None or reason.startswith("rules["):
        return reason
    found, rule_id = _lookup(raw, path[: match.end()] + ".rule_id")
    name = f" (rule_id {rule_id!r})" if found and isinstance(rule_id, str) else ""
    field = path[match.end() :].lstrip(".")
    return f"rules[{match.group(1)}]{name}: {field + ': ' if field else ''}{reason}"


def _lookup(raw: Any, path: str) -> tuple[bool, Any]:
    node = raw
    for name, index in _TOKEN_RE.findall(path[1:]):
        if name:
            if not isinstance(node, dict) or name not in node:
                return False, None
            node = node[name]
        else:
            i = int(index)
            if not isinstance(node, (list, tuple)) or i >= len(node):
                return False, None
            node = node[i]
    if isinstance(node, (dict, list)):
        return False, None  # a whole object is no help in a one-line reason
    return True, node
