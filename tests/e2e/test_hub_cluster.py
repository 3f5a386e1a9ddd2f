"""A three-server hub with R3 streams under faults, with real nats-server processes (issue 19, step 3).

The edge publishes to the hub while `footfall project` follows it live with
the zone processor (FF_TRACKS -> FF_DERIVED). The figures (seconds without a
leader) come from `footfall bench topology leader-kill rolling`; these tests
check only what must hold.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.topology.cluster import cluster_run

NOTHING_WRONG = {"lost": 0, "duplicated": 0, "out_of_order": 0, "unexpected": 0}
EQUAL = {"line_counts": True, "track_points": True, "footfall_lines": True}


def _faults(delivery: dict[str, int]) -> dict[str, int]:
    return {k: delivery[k] for k in NOTHING_WRONG}


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["leader-kill", "rolling"])
def test_the_hub_loses_no_acked_frame_and_duplicates_no_row(tmp_path: Path, mode: str) -> None:
    report = cluster_run(tmp_path, mode=mode, seconds=15.0, down_s=2.0)
    assert report.replicas == 3
    if mode == "leader-kill":
        assert [loss.stream for loss in report.leader_losses] == ["FF_TRACKS", "FF_DERIVED"]
        assert all(loss.new_leader != loss.killed for loss in report.leader_losses)
    assert _faults(report.delivery) == NOTHING_WRONG, report
    assert report.delivery["on_hub"] == report.delivery["acked"] > 0
    # FF_DERIVED as the zone processor wrote it under the faults: the clean run's events, once each, in order.
    assert _faults(report.derived) == NOTHING_WRONG and report.derived["acked"] > 0, report
    assert report.projections_equal == EQUAL, report
