"""True alert intervals: a rule's raise/clear definitions applied to a truth series sampled every tick.

The definitions are the alert processor's (projections/alerts/processor.py), written again here from the
rule's words, so an evaluation compares two implementations rather than one with itself. Per sample, in
time order (times are integer nanoseconds):

- when the gap since the previous sample is longer than closed_after_ns (the store went dark), an open
  alert clears at the previous sample (reason "closed", value: its peak) and the condition starts afresh;
- with no alert open: outside active hours, or at a value not above the threshold, the condition is not
  held; else it has held since its first such sample, and once held min_duration_ns the alert is raised
  at this sample;
- with an alert open: its peak takes the value; outside active hours it clears here (reason "inactive");
  a value below clear_level starts (or continues) the clear wait, and once that has lasted clear_after_ns
  it clears here (reason "cleared"); any other value resets the clear wait.

An alert still open at the last sample stays open (cleared_ns None).

staff_on_floor gives the staff count customers_per_staff divides by: staff (all simulated staff are first
seen in a staff zone, which is how the zone processor flags them) out of every staff zone, each stay on the
floor from its first frame outside to its first frame back inside (or its last frame seen), counted at a
tick inside [start, end) as customers are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ml_core.geometry.polygons import points_in_polygon
from ml_core.sim import truth_scan
from ml_core.sim.agents import STAFF, Trajectories
from ml_core.sim.plan import FloorPlan

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class RuleSpec:
    """What decides a rule's intervals: threshold and clear_level in the metric's unit, times in ns."""

    rule_id: str
    threshold: float
    min_duration_ns: int
    clear_level: float
    clear_after_ns: int

    def __post_init__(self) -> None:
        if self.clear_level > self.threshold:
            raise ValueError(f"rule {self.rule_id!r}: clear_level must be <= threshold, got {self.clear_level}")
        if self.min_duration_ns < 0 or self.clear_after_ns < 0:
            raise ValueError(f"rule {self.rule_id!r}: durations must be >= 0 ns")


@dataclass(frozen=True)
class AlertInterval:
    """One alert: raised at raised_ns with value_at_raise; cleared at cleared_ns (None: open) with reason."""

    rule_id: str
    raised_ns: int
    cleared_ns: int | None
    value_at_raise: float
    peak: float
    reason: str  # "cleared", "inactive", "closed" or "open"


def alert_intervals(
    rule: RuleSpec, ts_ns: IntArray, values: FloatArray, active: BoolArray, closed_after_ns: int
) -> list[AlertInterval]:
    """The alerts `rule` raises over samples at ts_ns (n,) increasing, of values (n,), active (n,) flags."""
    if not (len(ts_ns) == len(values) == len(active)):
        raise ValueError(
            f"ts_ns, values and active must have one length, got {len(ts_ns)}, {len(values)}, {len(active)}"
        )
    out: list[AlertInterval] = []
    above_since = below_since = -1
    opened: tuple[int, float] | None = None  # (raised_ns, value at raise)
    peak = 0.0
    last = -1

    def clear(at: int, reason: str) -> None:
        nonlocal opened, above_since, below_since
        assert opened is not None
        out.append(AlertInterval(rule.rule_id, opened[0], at, opened[1], peak, reason))
        opened, above_since, below_since = None, -1, -1

    for t, v, on in zip(ts_ns.tolist(), values.tolist(), active.tolist(), strict=True):
        if last >= 0 and t - last > closed_after_ns:
            if opened is not None:
                clear(last, "closed")
            above_since = below_since = -1
        last = t
        if opened is None:
            if not (on and v > rule.threshold):
                above_since = -1
                continue
            if above_since < 0:
                above_since = t
            if t - above_since >= rule.min_duration_ns:
                opened, peak, below_since = (t, v), v, -1
            continue
        peak = max(peak, v)
        if not on:
            clear(t, "inactive")
        elif v < rule.clear_level:
            if below_since < 0:
                below_since = t
            if t - below_since >= rule.clear_after_ns:
                clear(t, "cleared")
        else:
            below_since = -1
    if opened is not None:
        out.append(AlertInterval(rule.rule_id, opened[0], None, opened[1], peak, "open"))
    return out


def staff_on_floor(traj: Trajectories, plan: FloorPlan, ticks_ns: IntArray, t0_ns: int) -> IntArray:
    """(n,) staff out of every staff zone at each of ticks_ns (n,); frame f is at t0_ns + f * frame period."""
    period_ns = round(traj.frame_period_s * 1e9)
    in_staff_zone = np.zeros(len(traj.frame), dtype=np.bool_)
    for zone in plan.zones_of_kind("staff"):
        in_staff_zone |= points_in_polygon(traj.xy, zone.polygon)
    staff = np.flatnonzero((traj.kind == STAFF) & (np.diff(traj.offsets) > 0)).astype(np.int64)
    _, f0, f1 = truth_scan.runs(~in_staff_zone, traj.frame, traj.offsets, staff)
    starts, ends = np.sort(t0_ns + f0 * period_ns), np.sort(t0_ns + f1 * period_ns)
    return np.asarray(np.searchsorted(starts, ticks_ns, "right") - np.searchsorted(ends, ticks_ns, "right"))
