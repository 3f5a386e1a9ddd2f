"""Settings of the zone processor; every one changes derived events, so a change needs a replay."""

from __future__ import annotations

from typing import Annotated

import msgspec

from schemas.ids import Id

PositiveInt = Annotated[int, msgspec.Meta(ge=1, le=1000)]
Seconds = Annotated[float, msgspec.Meta(ge=0.0, le=86_400.0)]
PositiveSeconds = Annotated[float, msgspec.Meta(gt=0.0, le=86_400.0)]
Metres = Annotated[float, msgspec.Meta(ge=0.0, le=1000.0)]
Fraction = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]


class ZoneProcessorConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How tracks become zone events. Times in seconds, distances in metres.

    Zone hysteresis: a track enters (leaves) a zone after enter_observations
    (exit_observations) consecutive observations inside (outside), or once the
    new state has lasted min_state_s, whichever comes first; the change is
    dated at the first observation of the new state.
    Lines: a crossing counts once the track has been at least
    line_min_displacement_m on one side and then on the other (anti-flicker);
    it is dated at the first observation past the line.
    Visits: a visit starts on an inward crossing of an entrance line
    (entrance_line_ids, or every line when None) and ends on an outward one,
    or when the track is lost for lost_after_s.
    Stitching: a track that appears inside the store (not within
    arrival_band_m outside an entrance line) continues the nearest person lost
    less than stitch_max_gap_s ago within stitch_max_dist_m + stitch_speed_m_s
    x gap (id switches, fragmentation, camera hand-over); the match is made
    stitch_defer_s after the new track appears, so a person whose observation
    was merely dropped is seen again and is no candidate. lost_after_s must
    exceed stitch_max_gap_s + stitch_defer_s.
    Cameras: observations of one person by several cameras are merged in
    time order (an observation no later than one already used is dropped).
    A held track from one camera becomes a person tracked by another camera
    when, at every time both were seen within fusion_max_skew_s, they stood
    within fusion_gate_m, at least fusion_min_observations times (once is
    enough when the other camera's tracks stopped before the held track's
    latest observation: a hand-over); the nearest such person wins, before
    any stitch to a lost person. A held track that some other camera's person
    is merely consistent with (near, never far, but too few pairs) waits for
    more pairs up to fusion_max_hold_s after it appears, and is then that
    person rather than a second person beside them; so does one no other
    camera saw at its times (a missed frame) but a person another camera saw
    within stitch_defer_s of them within fusion_gate_m + stitch_speed_m_s x
    the time between. lost_after_s must be at least stitch_max_gap_s +
    fusion_max_hold_s.
    Staff: a person first seen in a staff zone, or whose observed time in staff
    zones is at least staff_fraction of their visit, is staff; with
    exclude_staff they are left out of samples and flagged on VisitEnded.
    Groups: people whose visits start within group_window_s of each other
    within group_radius_m, and who are still within group_radius_m
    group_confirm_s later, are one group.
    Samples: every tick_s, per zone and store, emitted once frames
    sample_delay_s later have arrived (so late-confirmed changes are in);
    ticks further than stale_after_s from any frame are not sampled.
    Wait estimate: queue length x (seconds of the trailing wait_window_s) /
    (checkout exits in it).
    """

    enter_observations: PositiveInt = 3
    exit_observations: PositiveInt = 3
    min_state_s: Seconds = 1.0
    line_min_displacement_m: Metres = 0.3
    line_end_margin_m: Metres = 0.25
    entrance_line_ids: tuple[Id, ...] | None = None
    lost_after_s: PositiveSeconds = 6.5
    stitch_max_gap_s: Seconds = 5.0
    stitch_defer_s: Seconds = 1.0
    stitch_max_dist_m: Metres = 1.0
    stitch_speed_m_s: Metres = 1.5
    arrival_band_m: Metres = 3.0
    staff_fraction: Fraction = 0.5
    exclude_staff: bool = True
    group_window_s: Seconds = 2.5
    group_radius_m: Metres = 1.5
    group_confirm_s: Seconds = 10.0
    tick_s: PositiveSeconds = 1.0
    sample_delay_s: Seconds = 3.0
    stale_after_s: Seconds = 5.0
    wait_window_s: PositiveSeconds = 600.0
    fusion_gate_m: Metres = 1.0
    fusion_min_observations: PositiveInt = 2
    fusion_max_skew_s: Seconds = 0.25
    fusion_max_hold_s: Seconds = 1.5
