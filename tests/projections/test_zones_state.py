"""The zone processor's state stays bounded over a long day (issue: a columnar zone processor, item 2).

A 12-hour simulated day, three cameras, realistic noise (id switches, dropped observations): folded in
batches with a snapshot and restore after each, as the runner does after every checkpoint. The snapshot
at the end of the day must be about the size it was in the first hour with the same people in the store,
and it holds no track that ended: a person seen all day (staff) keeps only its live tracks.
"""

from __future__ import annotations

import statistics
from collections import defaultdict

import msgspec

from ml_core.sim.agents import ShopperConfig
from ml_core.sim.noise import REALISTIC
from ops.simulation.simulate import simulate_day
from projections.layouts import LayoutHistory
from projections.projection import SeqEvent
from projections.zones.processor import ProcessorState, ZoneProcessor

HOUR_NS = 3600 * 1_000_000_000
HOURS = 12.0
BATCH = 1000


def test_snapshot_size_is_flat_over_a_twelve_hour_day() -> None:
    day = simulate_day(1, shopper=ShopperConfig(duration_s=HOURS * 3600, parties_per_hour=90), noise=REALISTIC,
                       cameras=3)  # fmt: skip
    history = LayoutHistory(day.layout.store_id)
    history.add(day.layout)
    layouts = {day.layout.store_id: history}
    events = [SeqEvent(i + 1, e) for i, e in enumerate(day.events)]
    t0 = events[0].event.ts_ns
    closing = t0 + int(HOURS * HOUR_NS)
    processor = ZoneProcessor()
    over_ns = processor._track_over_ns
    # people in the store at a batch's end -> snapshot sizes (bytes), in the first and the last hour open
    first: dict[int, list[int]] = defaultdict(list)
    last: dict[int, list[int]] = defaultdict(list)
    for start in range(0, len(events), BATCH):
        processor.fold(events[start : start + BATCH], layouts)
        snapshot = processor.snapshot()
        state = msgspec.msgpack.decode(snapshot, type=ProcessorState).stores[day.layout.store_id]
        for person in state.persons.values():
            # dropped once per over_ns of frame time: none is older than twice that
            stale = {k: seen for k, seen in person.seen_by.items() if seen < state.last_frame_ns - 2 * over_ns}
            assert not stale, f"at {state.last_frame_ns} ns person {person.pid} still maps tracks that ended: {stale}"
        at = events[min(start + BATCH, len(events)) - 1].event.ts_ns
        if at < t0 + HOUR_NS:
            first[len(state.persons)].append(len(snapshot))
        elif closing - HOUR_NS <= at < closing:
            last[len(state.persons)].append(len(snapshot))
        processor = ZoneProcessor()
        processor.restore(snapshot)
    both = sorted(set(first) & set(last))
    print({n: (statistics.median(first[n]), max(last[n])) for n in both})
    assert len(both) >= 3, (
        f"too few occupancies seen in both the first and the last hour: {sorted(first)}, {sorted(last)}"
    )
    for n in both:
        assert max(last[n]) <= 2 * statistics.median(first[n]), (n, first[n], last[n])
