"""Identifier and numeric field types shared by events and layouts (DESIGN.md §2)."""

from __future__ import annotations

import re
from typing import Annotated

import msgspec

# Ids are NATS subject tokens and safe SQL literals.
# `(?!\n)$`: in Python's re (msgspec's), a bare `$` also matches before a final
# newline, which would let "store-1\n" through; the lookahead is ECMA-262 too, so
# the exported JSON Schema means the same.
ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}(?!\n)$"
_ID_RE = re.compile(ID_PATTERN)

Id = Annotated[str, msgspec.Meta(pattern=ID_PATTERN, description="lower-case id: [a-z0-9][a-z0-9_-]{0,31}")]
INT64_MAX = 2**63 - 1
TsNs = Annotated[int, msgspec.Meta(ge=0, le=INT64_MAX, description="int64 nanoseconds since the Unix epoch, UTC")]
Seq = Annotated[int, msgspec.Meta(ge=0, le=INT64_MAX)]
TrackId = Annotated[int, msgspec.Meta(ge=0, le=INT64_MAX, description="track id, unique per camera and edge run")]
Count = Annotated[int, msgspec.Meta(ge=0, le=INT64_MAX)]
# Normalised image coordinates: 0 is the left/top edge, 1 the right/bottom edge.
# NaN fails the bounds check, so the bounds also reject non-finite values.
Unit = Annotated[float, msgspec.Meta(ge=0.0, le=1.0, description="normalised image coordinate or score in [0, 1]")]
# Floor coordinates in metres; the bound rejects inf and NaN and anything no store has.
Metres = Annotated[float, msgspec.Meta(ge=-1e5, le=1e5, description="metres on the store floor")]
NonNegFloat = Annotated[float, msgspec.Meta(ge=0.0, le=1e12)]
FiniteFloat = Annotated[float, msgspec.Meta(ge=-1e12, le=1e12)]


def is_valid_id(value: str) -> bool:
    """Return whether `value` is a valid store, camera, zone or line id."""
    return _ID_RE.match(value) is not None
