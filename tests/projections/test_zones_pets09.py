"""Golden digest of the zone processor's derived events on PETS09-S2L1's edge output (real footage).

The edge output (layout and 795 TrackFrames) is recorded in data/pets09_s2l1_edge.msgpack.gz by
data/record_pets09_edge.py; this test folds it as the runner would (batches, the state snapshotted and
restored between them) and checks the events' digest, as test_zones_golden.py does for the simulator.
"""

from __future__ import annotations

import gzip
import hashlib
from collections import Counter
from pathlib import Path

import msgspec
import pytest

from projections.layouts import LayoutHistory
from projections.projection import SeqEvent
from projections.zones.processor import VERSION, ZoneProcessor
from schemas.codec import decode
from schemas.events import LayoutPublished

EDGE_OUTPUT = Path(__file__).parent / "data" / "pets09_s2l1_edge.msgpack.gz"
# Derived events, their kinds, sha256 (first 16 hex digits) of their MessagePack encodings, with VERSION
# "2". The processor before the columnar rewrite (commit 6d0dd18) gives the same on this file.
GOLDEN = (
    493,
    {"LineCrossed": 63, "OccupancySampled": 333, "VisitEnded": 32, "ZoneEntered": 33, "ZoneExited": 32},
    "a4390e6445bcc43c",
)


def _fold(batch: int) -> tuple[int, dict[str, int], str]:
    payloads = msgspec.msgpack.decode(gzip.decompress(EDGE_OUTPUT.read_bytes()), type=list[bytes])
    layout, *frames = (decode(p) for p in payloads)
    assert isinstance(layout, LayoutPublished)
    history = LayoutHistory(layout.store_id)
    history.add(layout)
    events = [SeqEvent(i + 1, e) for i, e in enumerate(frames)]
    processor, digest, kinds = ZoneProcessor(), hashlib.sha256(), Counter[str]()
    for start in range(0, len(events), batch):
        for derived in processor.fold(events[start : start + batch], {layout.store_id: history}).events:
            digest.update(msgspec.msgpack.encode(derived))
            kinds[type(derived).__name__] += 1
        snapshot = processor.snapshot()
        processor = ZoneProcessor()
        processor.restore(snapshot)
    return kinds.total(), dict(sorted(kinds.items())), digest.hexdigest()[:16]


def test_the_digest_was_recorded_with_this_version() -> None:
    assert VERSION == "2", "VERSION changed: re-record GOLDEN on purpose"


@pytest.mark.parametrize("batch", [100, 795])
def test_derived_events_on_pets09_equal_the_golden_digest(batch: int) -> None:
    assert _fold(batch) == GOLDEN
