"""Golden digests of the zone processor's derived events on the simulator's seeds, cameras and noise.

The reference for any rewrite of the processor (issue: a columnar zone processor): its derived events,
ids and content, must stay these, unless a difference is a fix (then VERSION is bumped and the digests
rewritten on purpose). Recorded with processor VERSION "2" on 5-minute simulated days dated T0_NS; the
digests also pin the simulator's output for these seeds, since the events are folded from it.

Each day is folded in batches, with the state snapshotted and restored between batches as the runner
does after every checkpoint, so the snapshot codec is inside what the digest covers.
"""

from __future__ import annotations

import hashlib

import msgspec
import pytest

from ml_core.sim.agents import ShopperConfig
from ml_core.sim.noise import NO_NOISE, REALISTIC
from ops.simulation.simulate import simulate_day
from projections.layouts import LayoutHistory
from projections.projection import SeqEvent
from projections.zones.processor import VERSION, ZoneProcessor

DURATION_S = 300.0
BATCH = 2000

# (seed, cameras, noise) -> (derived events, sha256 of their MessagePack encodings, first 16 hex digits).
GOLDEN = {
    (1, 1, "none"): (6603, "d62d4304e8ac28b2"),
    (1, 1, "realistic"): (6603, "044c8dd95723f179"),
    (1, 2, "none"): (6603, "45a2ff6dad0ab81b"),
    (1, 2, "realistic"): (6603, "2e5128af8091d215"),
    (1, 3, "none"): (6603, "38889e4f3a138de9"),
    (1, 3, "realistic"): (6603, "e4b39aa76f9377ec"),
    (2, 1, "none"): (6358, "dcb25362f9b099ba"),
    (2, 1, "realistic"): (6358, "c1c7525e68f1e160"),
    (2, 2, "none"): (6358, "75125612580f2f2a"),
    (2, 2, "realistic"): (6358, "1c0790ffcc00d573"),
    (2, 3, "none"): (6358, "dee138e615f578a4"),
    (2, 3, "realistic"): (6358, "ff80bec4c77ace87"),
    (3, 1, "none"): (8046, "f37bc9c5b05dae1b"),
    (3, 1, "realistic"): (8046, "773a4755760dde27"),
    (3, 2, "none"): (8046, "e0108510c508ac17"),
    (3, 2, "realistic"): (8046, "7ea2ff4a2ea2ed01"),
    (3, 3, "none"): (8046, "b8fd295a6ad942c9"),
    (3, 3, "realistic"): (8046, "dae299a7098e5bde"),
}


def _digest(seed: int, cameras: int, noise: str, batch: int = BATCH) -> tuple[int, str]:
    day = simulate_day(seed, shopper=ShopperConfig(duration_s=DURATION_S), cameras=cameras,
                       noise=REALISTIC if noise == "realistic" else NO_NOISE)  # fmt: skip
    history = LayoutHistory(day.layout.store_id)
    history.add(day.layout)
    layouts = {day.layout.store_id: history}
    events = [SeqEvent(i + 1, e) for i, e in enumerate(day.events)]
    processor, digest, count = ZoneProcessor(), hashlib.sha256(), 0
    for start in range(0, len(events), batch):
        for derived in processor.fold(events[start : start + batch], layouts).events:
            digest.update(msgspec.msgpack.encode(derived))
            count += 1
        snapshot = processor.snapshot()
        processor = ZoneProcessor()
        processor.restore(snapshot)
    return count, digest.hexdigest()[:16]


def test_the_digests_were_recorded_with_this_version() -> None:
    assert VERSION == "2", "a new VERSION changes event ids: rewrite GOLDEN on purpose and say why"


@pytest.mark.parametrize(("seed", "cameras", "noise"), sorted(GOLDEN), ids=str)
def test_derived_events_equal_the_golden_digest(seed: int, cameras: int, noise: str) -> None:
    assert _digest(seed, cameras, noise) == GOLDEN[(seed, cameras, noise)]


def test_batch_boundaries_do_not_change_the_events() -> None:
    assert _digest(3, 3, "realistic", batch=333) == GOLDEN[(3, 3, "realistic")]
