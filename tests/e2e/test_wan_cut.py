"""A store's WAN link cut for 60 s, and its leaf server SIGKILLed, with real nats-server processes (issue 19).

The edge publishes 4 cameras at 10 frames/s to its leaf; the hub sources the
leaf's FF_TRACKS across the domain. The figures (catch-up seconds) come from
`footfall bench topology`; these tests check only what must hold.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.topology.faults import leaf_kill, wan_cut

NOTHING_WRONG = {"lost": 0, "duplicated": 0, "out_of_order": 0, "unexpected": 0}


def _faults(delivery: dict[str, int]) -> dict[str, int]:
    return {k: delivery[k] for k in NOTHING_WRONG}


@pytest.mark.slow
def test_a_60_s_wan_cut_delays_frames_but_loses_and_duplicates_none(tmp_path: Path) -> None:
    report = wan_cut(tmp_path, cut_s=60.0, before_s=3.0, after_s=3.0)
    assert report.backlog_at_restore >= 60 * 40  # the hub really was cut off: a minute of frames to fetch
    assert _faults(report.delivery) == NOTHING_WRONG, report
    assert report.delivery["on_hub"] == report.delivery["acked"]
    assert report.projections_equal == {"line_counts": True, "track_points": True}, report


@pytest.mark.parametrize("publisher", ["spooling", "acked"])
def test_a_sigkilled_leaf_loses_nothing_the_edge_had_acked(tmp_path: Path, publisher: str) -> None:
    report = leaf_kill(tmp_path, publisher=publisher, down_s=2.0, before_s=3.0, after_s=3.0)
    assert _faults(report.delivery) == NOTHING_WRONG, report
    assert report.delivery["on_hub"] == report.delivery["acked"] == report.events - report.refused
    if publisher == "spooling":
        assert report.refused == 0  # the spool carried the edge over its leaf's restart
