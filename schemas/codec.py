"""The one MessagePack and JSON codec for events and layouts, built once at import.

Errors from msgspec become SchemaError with the JSON path and, where the raw
message can still be parsed, the offending value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

from schemas.errors import SchemaError
from schemas.events import AnyEvent, Event, TrackFrame
from schemas.layout import StoreLayout

T = TypeVar("T")


_msgpack_encoder = msgspec.msgpack.Encoder()
_json_encoder = msgspec.json.Encoder()
_msgpack_event_decoder = msgspec.msgpack.Decoder(AnyEvent)
_json_event_decoder = msgspec.json.Decoder(AnyEvent)
_msgpack_frame_decoder = msgspec.msgpack.Decoder(TrackFrame)
_json_layout_decoder = msgspec.json.Decoder(StoreLayout)

_PATH_RE = re.compile(r" - at `(\$[^`]*)`$")
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
    """Decode a store layout config from JSON (unknown keys are an error)."""
    return _decode(_json_layout_decoder.decode, data, msgspec.json.decode)


def _decode(decode_raw: Callable[[Any], T], data: bytes | str, parse: Any) -> T:
    try:
        return decode_raw(data)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise _translate(exc, data, parse) from None


def convert(obj: Any, type_: type[T]) -> T:
    """Validate already-parsed builtins (a dict from YAML or a test) into a contract type."""
    try:
        return msgspec.convert(obj, type_)
    except msgspec.ValidationError as exc:
        raise _translate(exc, obj, None) from None


def _translate(exc: Exception, data: Any, parse: Any) -> SchemaError:
    if isinstance(exc, UnicodeDecodeError):
        # msgspec lets invalid UTF-8 inside a string through as Python's own error, without a path.
        return SchemaError(f"malformed message: a string is not valid UTF-8 ({exc.reason} at byte {exc.start})")
    message = str(exc)
    match = _PATH_RE.search(message)
    if match is None:
        reason = message if isinstance(exc, msgspec.ValidationError) else f"malformed message: {message}"
        return SchemaError(reason, "$")
    reason, path = message[: match.start()], match.group(1)
    raw = data
    if parse is not None:
        try:
            raw = parse(data)
        except (msgspec.DecodeError, ValueError, RecursionError):
            return SchemaError(reason, path)
    found, value = _lookup(raw, path)
    if found and repr(value) in reason:  # msgspec already named it ("Invalid value 'x'")
        found = False
    return SchemaError(reason, path, value, has_value=found)


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
