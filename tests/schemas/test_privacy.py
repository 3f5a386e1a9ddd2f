"""Privacy by type (DESIGN.md §2, §6.1): no event or config type can hold pixels or biometrics."""

from __future__ import annotations

import re
import typing

import msgspec
import pytest

import schemas
from schemas.layout import StoreLayout

FORBIDDEN_TYPES = (bytes, bytearray, memoryview)
FORBIDDEN_NAME = re.compile(
    r"image(?!_to_floor|_width|_height)|frame_data|face|embedding|pixel|biometric|appearance|reid|feature|jpeg|png|thumb"
)
REGISTERED = [*schemas.EVENT_TYPES, StoreLayout]


def _walk(tp: object, path: str, seen: set[object]) -> list[str]:
    """Return the problems found in a type annotation, recursively."""
    problems: list[str] = []
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _walk(typing.get_args(tp)[0], path, seen)
    if origin is not None:
        for arg in typing.get_args(tp):
            if arg is not Ellipsis:
                problems += _walk(arg, path, seen)
        return problems
    if isinstance(tp, type) and (issubclass(tp, FORBIDDEN_TYPES) or tp.__module__.startswith("numpy")):
        return [f"{path} has type {tp.__name__}, which can hold pixels"]
    if tp is typing.Any or tp is object:
        return [f"{path} is untyped (Any), which can hold anything"]
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct) and tp not in seen:
        seen.add(tp)
        hints = typing.get_type_hints(tp, include_extras=True)
        for field in msgspec.structs.fields(tp):
            if FORBIDDEN_NAME.search(field.name):
                problems.append(f"{path}.{field.name} has a name that suggests pixels or biometrics")
            problems += _walk(hints[field.name], f"{path}.{field.name}", seen)
    return problems


@pytest.mark.parametrize("tp", REGISTERED, ids=lambda t: t.__name__)
def test_no_field_can_hold_pixels_or_biometrics(tp: type) -> None:
    assert _walk(tp, tp.__name__, set()) == []


# The walker itself must catch what it is for, or the test above proves nothing.
class _Leaky(msgspec.Struct):
    face_crop: bytes
    frames: list[list[int]]


class _Nested(msgspec.Struct):
    inner: tuple[_Leaky, ...] | None
    embedding: list[float]


def test_walker_catches_bytes_names_and_nesting() -> None:
    problems = _walk(_Nested, "_Nested", set())
    assert any("face_crop has type bytes" in p for p in problems)
    assert any("face_crop has a name" in p for p in problems)
    assert any("_Nested.embedding has a name" in p for p in problems)


def test_walker_catches_any() -> None:
    class _Loose(msgspec.Struct):
        payload: typing.Any

    assert _walk(_Loose, "_Loose", set()) == ["_Loose.payload is untyped (Any), which can hold anything"]
