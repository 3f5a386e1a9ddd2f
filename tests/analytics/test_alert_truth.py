"""True alert intervals (ml_core/sim/alert_truth.py) against the alert processor's fold on the same series,
and the simulator's opt-in scenarios (bursts): a day without them is unchanged (the goldens say so), a burst
adds parties where it says."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml_core.sim.agents import ShopperConfig, simulate
from ml_core.sim.alert_truth import AlertInterval, RuleSpec, alert_intervals, staff_on_floor
from ml_core.sim.plan import default_plan
from ml_core.sim.scenarios import Burst, StaffBreak, checkout_surge, promotion_crowd
from projections.alerts.processor import AlertProcessor
from projections.layouts import LayoutHistory
from projections.projection import SeqEvent
from schemas.events import AlertCleared, AlertRaised, LayoutPublished, QueueSampled
from schemas.layout import AlertRule, StoreLayout, Zone, ZoneKind

S = 1_000_000_000
T0 = 1_795_000_000 * S
CLOSED_NS = 300 * S
QUEUE = Zone("queue", ZoneKind.QUEUE, ((0.0, 0.0), (4.0, 0.0), (4.0, 2.0), (0.0, 2.0)))
SPEC = RuleSpec("long-queue", threshold=3.0, min_duration_ns=30 * S, clear_level=2.0, clear_after_ns=10 * S)


def _ticks(n: int) -> np.ndarray:
    return T0 + np.arange(n, dtype=np.int64) * S


CASES = [
    # values one a second; expected (raised s, cleared s or None, reason)
    ([0] * 5 + [5] * 40 + [1] * 20 + [5] * 10 + [0] * 5, [(35, 55, "cleared")]),
    ([5] * 31 + [3] * 30 + [2] * 5, [(30, None, "open")]),  # 3 is neither above 3 nor below 2
    ([5] * 29 + [0] + [5] * 31, [(60, None, "open")]),  # a dip restarts min_duration
    ([5] * 40 + [1] * 5 + [2] * 3 + [1] * 20, [(30, 58, "cleared")]),  # 2 is not below 2: the wait restarts
]


@pytest.mark.parametrize(("values", "expected"), CASES)
def test_intervals_follow_the_rule_words(values: list[int], expected: list[tuple[int, int | None, str]]) -> None:
    got = alert_intervals(SPEC, _ticks(len(values)), np.array(values, float), np.ones(len(values), bool), CLOSED_NS)
    assert [((a.raised_ns - T0) // S, None if a.cleared_ns is None else (a.cleared_ns - T0) // S, a.reason)
            for a in got] == expected  # fmt: skip


def test_inactive_and_closed_clear_an_open_alert() -> None:
    spec = RuleSpec("r", 3.0, 0, 3.0, 0)
    active = np.array([True] * 10 + [False] * 5, bool)
    got = alert_intervals(spec, _ticks(15), np.full(15, 5.0), active, CLOSED_NS)
    assert [(a.raised_ns - T0, a.cleared_ns, a.reason) for a in got] == [(0, T0 + 10 * S, "inactive")]
    ts = np.concatenate([_ticks(5), _ticks(5) + 3600 * S])
    got = alert_intervals(spec, ts, np.array([5.0] * 4 + [9.0] + [0.0] * 5), np.ones(10, bool), CLOSED_NS)
    assert got == [AlertInterval("r", T0, T0 + 4 * S, 5.0, 9.0, "closed")]


def _processor(values: list[int], gaps: list[bool], rule: AlertRule) -> list[tuple[str, int]]:
    history = LayoutHistory("s1")
    history.add(LayoutPublished(store_id="s1", ts_ns=0, version=1, effective_from_ns=0,
                                layout=StoreLayout(zones=(QUEUE,), rules=(rule,))))  # fmt: skip
    ts = _gapped(gaps)
    events = [SeqEvent(i + 1, QueueSampled(store_id="s1", ts_ns=int(t), zone_id="queue", queue_length=v, est_wait_s=0.0,
                                           layout_version=1, processor_version="2+l1"))
              for i, (t, v) in enumerate(zip(ts, values, strict=True))]  # fmt: skip
    out = AlertProcessor().fold(events, {"s1": history}).events
    return [("raised" if isinstance(e, AlertRaised) else "cleared", e.ts_ns) for e in out
            if isinstance(e, AlertRaised | AlertCleared)]  # fmt: skip


def _gapped(gaps: list[bool]) -> np.ndarray:
    """Ticks a second apart, an hour apart where gaps says so (the store closed)."""
    steps = np.where(np.array(gaps, bool), 3600 * S, S).astype(np.int64)
    steps[0] = 0
    return T0 + np.cumsum(steps)


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.integers(0, 8), min_size=1, max_size=200),
    closes=st.lists(st.integers(1, 199), max_size=3),
    threshold=st.integers(0, 6),
    below=st.integers(0, 6),
    min_s=st.integers(0, 20),
    after_s=st.integers(0, 20),
)  # fmt: skip
def test_the_truth_and_the_processor_agree_on_any_series(
    values: list[int], closes: list[int], threshold: int, below: int, min_s: int, after_s: int
) -> None:
    gaps = [i in closes for i in range(len(values))]
    clear = min(below, threshold)
    rule = AlertRule(rule_id="r", zone_id="queue", metric="queue_length", threshold=float(threshold),
                     min_duration_s=float(min_s), clear_below=float(clear), clear_after_s=float(after_s))  # fmt: skip
    spec = RuleSpec("r", float(threshold), min_s * S, float(clear), after_s * S)
    truth = alert_intervals(spec, _gapped(gaps), np.array(values, float), np.ones(len(values), bool), CLOSED_NS)
    expected = []
    for a in truth:
        expected.append(("raised", a.raised_ns))
        if a.cleared_ns is not None:
            expected.append(("cleared", a.cleared_ns))
    assert _processor(values, gaps, rule) == expected


def test_bursts_add_parties_where_they_say() -> None:
    plan = default_plan()
    base = ShopperConfig(duration_s=900.0, parties_per_hour=60.0)
    plain = simulate(plan, base, 4)
    crowd = promotion_crowd("drinks", 300.0, duration_s=240.0)
    surge = checkout_surge(120.0, duration_s=120.0)
    day = simulate(plan, ShopperConfig(duration_s=900.0, parties_per_hour=60.0, bursts=(surge, crowd)), 4)
    plain_parties = int(plain.party.max()) + 1
    extra = set(day.party.tolist()) - set(range(plain_parties)) - {-1}
    assert len(extra) > 20  # about 14 + 20 parties expected
    # The day's own parties arrive as without bursts: their first frames are the same.
    firsts = {int(p): int(plain.frames_of(i)[0]) for i, p in enumerate(plain.party) if p >= 0}
    again = {int(p): int(day.frames_of(i)[0]) for i, p in enumerate(day.party) if 0 <= p < plain_parties}
    assert again == firsts


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ShopperConfig(duration_s=100.0, bursts=(Burst(50.0, 100.0, 60.0),)), "after the day's arrivals end"),
        (lambda: Burst(0.0, 10.0, 60.0, buy_probability=1.5), "buy_probability must be in [0, 1]"),
        (lambda: simulate(default_plan(), ShopperConfig(bursts=(Burst(0.0, 10.0, 60.0, zone_id="queue"),)), 1),
         "bursts[0].zone_id 'queue' is not a product zone"),
    ],
)  # fmt: skip
def test_a_bad_burst_is_refused_naming_the_field(make: object, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        make()  # type: ignore[operator]


def test_a_staff_break_leaves_no_staff_on_the_floor() -> None:
    plan = default_plan()
    config = ShopperConfig(duration_s=900.0, parties_per_hour=60.0, staff_rest_mean_s=20.0, staff_task_s=(100.0, 200.0),
                           staff_breaks=(StaffBreak(500.0, 200.0),))  # fmt: skip
    traj = simulate(plan, config, 5)
    ticks = T0 + np.arange(0, 900, dtype=np.int64) * S
    staff = staff_on_floor(traj, plan, ticks, T0)
    assert staff[500:700].max() == 0 and staff[:450].max() > 0 and staff[710:].max() > 0
