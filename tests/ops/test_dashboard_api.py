"""The dashboard's JSON API on a real `footfall serve` (real nats-server and chDB) over two simulated days.

The store keeps Paris time; a short day a week before the main day gives "same weekday last week". Each
number the API gives is checked against the same measure asked of the SQL endpoint, so the API's own
arithmetic (local buckets, roll-ups, ratios) is what is under test. The serve is tests/ops/conftest.py's.
"""

from __future__ import annotations

import base64
import json
import urllib.request
from pathlib import Path

import pytest

from ops.simulation.simulate import T0_NS
from tests.ops.dashboard_fixture import (
    AT_NS,
    DAY,
    DAY_NS,
    MIDNIGHT_S,
    PASSWORDS,
    PLAN_PX,
    PLAN_WIDTH_M,
    STORE,
    TZ,
    Dash,
    build_whatif,
    publish_occupancy,
)


def test_overview_today_now_and_last_week(dash: Dash) -> None:
    got = dash.ok(f"/{STORE}/overview?at={AT_NS}")
    assert got["time_zone"] == TZ and got["day_start"] == "2026-01-01T00:00:00+01:00"
    assert got["at"].endswith("+01:00")
    (today,) = dash.sql("SELECT countIf(NOT is_staff) FROM visits WHERE started >= toDateTime64({a:Int64}, 9) "
                        "AND started < fromUnixTimestamp64Nano({b:Int64})", a=MIDNIGHT_S, b=AT_NS)  # fmt: skip
    (week_before,) = dash.sql("SELECT countIf(NOT is_staff) FROM visits WHERE started >= toDateTime64({a:Int64}, 9) "
                              "AND started < fromUnixTimestamp64Nano({b:Int64})", a=MIDNIGHT_S - 7 * 86400,
                              b=AT_NS - 7 * DAY_NS)  # fmt: skip
    assert today[0] > 0 and week_before[0] > 0
    assert (got["visits_today"], got["visits_same_weekday_last_week"]) == (today[0], week_before[0])
    assert got["visits_change_pct"] == round(100 * (today[0] - week_before[0]) / week_before[0], 1)
    (occ,) = dash.sql("SELECT argMax(people, ts) FROM occupancy_series WHERE zone_id = '' AND "
                      "ts <= fromUnixTimestamp64Nano({b:Int64})", b=AT_NS)  # fmt: skip
    assert got["occupancy_now"] == occ[0]
    queues = dash.sql("SELECT zone_id, argMax(queue_length, ts) FROM queue_series WHERE ts <= "
                      "fromUnixTimestamp64Nano({b:Int64}) GROUP BY zone_id ORDER BY zone_id", b=AT_NS)  # fmt: skip
    assert [(q["zone_id"], q["queue_length"]) for q in got["queue_now"]] == queues
    (open_alerts,) = dash.sql("SELECT count() FROM alerts FINAL WHERE raised_at <= fromUnixTimestamp64Nano({b:Int64}) "
                              "AND (cleared_at IS NULL OR cleared_at > fromUnixTimestamp64Nano({b:Int64}))",
                              b=AT_NS)  # fmt: skip
    assert len(got["open_alerts"]) == open_alerts[0]


@pytest.mark.parametrize("bucket", ["5m", "15m", "1h", "1d", "1w", "1mo"])
def test_trends_in_local_buckets_add_up_to_sql(dash: Dash, bucket: str) -> None:
    got = dash.ok(f"/{STORE}/trends?{DAY}&bucket={bucket}")
    assert got["buckets"][0].startswith("2026-01-01T00:00:00+01:00") or bucket in ("1w", "1mo")
    (visits,) = dash.sql("SELECT countIf(NOT is_staff) FROM visits WHERE started >= toDateTime64({a:Int64}, 9) "
                         "AND started < toDateTime64({b:Int64}, 9)", a=MIDNIGHT_S, b=MIDNIGHT_S + 86400)  # fmt: skip
    assert got["visits_total"] == sum(got["visits"]) == visits[0] > 0
    doors = dash.sql("SELECT line_id, sum(entries), sum(exits) FROM footfall_lines WHERE bucket_start >= "
                     "toDateTime({a:Int64}) GROUP BY line_id ORDER BY line_id", a=MIDNIGHT_S)  # fmt: skip
    assert [(d["line_id"], d["entries_total"], d["exits_total"]) for d in got["doors"]] == doors
    assert [(d["line_id"], sum(d["entries"]), sum(d["exits"])) for d in got["doors"]] == doors
    (peak,) = dash.sql("SELECT max(people) FROM occupancy_series WHERE zone_id = '' AND ts >= "
                       "toDateTime64({a:Int64}, 3)", a=MIDNIGHT_S)  # fmt: skip
    assert max(p for p in got["occupancy_peak"] if p is not None) == peak[0]
    # Period over period: the window before a day is the day before, which has no visits.
    assert got["previous_visits_total"] == 0 and got["visits_change_pct"] is None


def test_trends_period_over_period_a_week_apart(dash: Dash) -> None:
    got = dash.ok(f"/{STORE}/trends?from=2025-12-25&to=2026-01-01&bucket=1d")
    (earlier,) = dash.sql("SELECT countIf(NOT is_staff) FROM visits WHERE started < toDateTime64({a:Int64}, 9)",
                          a=MIDNIGHT_S)  # fmt: skip
    assert got["visits_total"] == earlier[0] and len(got["buckets"]) == 7
    assert got["visits"][0] == earlier[0]  # 2025-12-25, a Thursday as 2026-01-01


def test_zones_dwell_and_visits_equal_sql(dash: Dash) -> None:
    got = dash.ok(f"/{STORE}/zones?{DAY}")
    want = dash.sql("SELECT zone_id, count(), uniqExact(visit_id), quantileExactInclusive(0.5)(dwell_s), "
                    "quantileExactInclusive(0.9)(dwell_s) FROM zone_visits WHERE entered >= toDateTime64({a:Int64}, 9) "
                    "GROUP BY zone_id ORDER BY zone_id", a=MIDNIGHT_S)  # fmt: skip
    assert want
    assert [(z["zone_id"], z["stays"], z["visits"]) for z in got["zones"]] == [w[:3] for w in want]
    for zone, row in zip(got["zones"], want, strict=True):
        assert (zone["median_s"], zone["p90_s"]) == (round(row[3], 2), round(row[4], 2))
        assert sum(zone["histogram_s"]) == zone["stays"]


def test_journeys_transitions_and_funnel_equal_sql(dash: Dash) -> None:
    got = dash.ok(f"/{STORE}/journeys?{DAY}")
    want = dash.sql(
        "SELECT from_state, to_state, sum(transitions) AS n FROM zone_transitions WHERE bucket_start >= "
        "toDateTime({a:Int64}) GROUP BY ALL ORDER BY n DESC, from_state, to_state",
        a=MIDNIGHT_S,
    )
    assert [(t["from_state"], t["to_state"], t["n"]) for t in got["transitions"]] == want
    (funnel,) = dash.sql("SELECT count(), countIf(stage_index >= 1), countIf(stage_index >= 2), "
                         "countIf(stage_index = 3) FROM funnel_visits WHERE started >= toDateTime64({a:Int64}, 9)",
                         a=MIDNIGHT_S)  # fmt: skip
    (tx,) = dash.sql("SELECT count() FROM pos_transactions WHERE ts >= toDateTime64({a:Int64}, 9)", a=MIDNIGHT_S)
    f = got["funnel"]
    assert (f["entered"], f["engaged"], f["queued"], f["checked_out"], f["transactions"]) == (*funnel, tx[0])
    assert f["entered"] >= f["engaged"] >= f["queued"] >= f["checked_out"] and f["checked_out"] > 0
    assert f["conversion"] == round(tx[0] / funnel[0], 4)


def test_queue_and_staffing(dash: Dash) -> None:
    got = dash.ok(f"/{STORE}/queue?{DAY}&bucket=15m")
    assert (got["target_wait_s"], got["customers_per_staff_target"]) == (60.0, 10.0)
    want = dash.sql(
        "SELECT zone_id, max(queue_length), countIf(est_wait_s > 60) / count() FROM queue_series "
        "WHERE ts >= toDateTime64({a:Int64}, 3) GROUP BY zone_id ORDER BY zone_id",
        a=MIDNIGHT_S,
    )
    assert [(q["zone_id"], max(v for v in q["max_length"] if v is not None)) for q in got["queues"]] == [
        w[:2] for w in want
    ]
    assert [q["share_over_target"] for q in got["queues"]] == [round(w[2], 4) for w in want]
    (customers,) = dash.sql("SELECT countIf(NOT is_staff) FROM visits WHERE started >= toDateTime64({a:Int64}, 9)",
                            a=MIDNIGHT_S)  # fmt: skip
    assert sum(h["customers"] for h in got["hours"]) == customers[0]
    assert all(h["hour"].endswith(":00:00+01:00") for h in got["hours"])
    for h in got["hours"]:
        assert h["over_target"] == (h["customers_per_staff"] is not None and h["customers_per_staff"] > 10.0)


def test_alerts_heatmap_and_layout(dash: Dash) -> None:
    got = dash.ok(f"/{STORE}/alerts?{DAY}")
    (n,) = dash.sql("SELECT count() FROM alerts FINAL WHERE raised_at >= toDateTime64({a:Int64}, 3)", a=MIDNIGHT_S)
    assert len(got["alerts"]) == n[0] > 0  # the layout's rule: more than 4 people in the store
    assert {a["rule_id"] for a in got["alerts"]} == {"crowded"}
    heat = dash.ok(f"/{STORE}/heatmap?{DAY}")
    (cells,) = dash.sql(
        "SELECT count(), sum(s) FROM (SELECT cell_x, cell_y, sum(presence_s) AS s FROM heatmap "
        "WHERE bucket_start >= toDateTime({a:Int64}) GROUP BY cell_x, cell_y)",
        a=MIDNIGHT_S,
    )
    assert len(heat["cells"]) == cells[0] and sum(c[2] for c in heat["cells"]) == pytest.approx(cells[1], abs=0.1)
    assert heat["cell_m"] > 0 and not heat["k_anonymous"]
    layout = dash.ok(f"/{STORE}/layout")
    assert layout["time_zone"] == TZ and layout["layout_version"] == 1
    assert {z["kind"] for z in layout["zones"]} >= {"entrance", "queue", "checkout"} and layout["lines"]
    assert len(layout["cameras"]) == 1 and len(layout["cameras"][0]["view_m"]) == 4


def test_compare_period_b_against_a_week_earlier(dash: Dash) -> None:
    """The A/B page's route: period B (the window) against A (by default a week earlier), hourly units for
    periods under a week, each count equal to SQL with B - A inside its interval; a partner and a period A
    that ends before it starts are refused."""
    got = dash.ok(f"/{STORE}/compare?{DAY}")
    assert got["a"] == ["2025-12-25T00:00:00+01:00", "2025-12-26T00:00:00+01:00"]
    assert got["b"] == ["2026-01-01T00:00:00+01:00", "2026-01-02T00:00:00+01:00"]
    assert got["unit_s"] == 3600 and got["units_a"] == got["units_b"] == 24 and not got["counts_per_unit"]
    (b,) = dash.sql("SELECT countIf(NOT is_staff) FROM visits WHERE started >= toDateTime64({a:Int64}, 9) "
                    "AND started < toDateTime64({b:Int64}, 9)", a=MIDNIGHT_S, b=MIDNIGHT_S + 86400)  # fmt: skip
    (a,) = dash.sql("SELECT countIf(NOT is_staff) FROM visits WHERE started >= toDateTime64({a:Int64}, 9) "
                    "AND started < toDateTime64({b:Int64}, 9)", a=MIDNIGHT_S - 7 * 86400,
                    b=MIDNIGHT_S - 6 * 86400)  # fmt: skip
    (visits,) = [m for m in got["measures"] if m["measure"] == "visits" and not m["subject"]]
    assert (visits["a"], visits["b"], visits["delta"]) == (a[0], b[0], b[0] - a[0]) and a[0] > 0
    assert visits["lo"] <= visits["delta"] <= visits["hi"]
    explicit = dash.ok(f"/{STORE}/compare?{DAY}&a_from=2025-12-25&a_to=2025-12-26")
    assert explicit["measures"] == got["measures"]
    status, _, body = dash.api(f"/{STORE}/compare?{DAY}", "pat")
    assert status == 403 and body["code"] == "ACCESS_DENIED"
    status, _, body = dash.api(f"/{STORE}/compare?{DAY}&a_from=2025-12-26&a_to=2025-12-25", "ana")
    assert status == 400 and "period A must end after it starts" in body["error"]


def test_the_layout_places_the_configured_plan_image(dash: Dash) -> None:
    layout = dash.ok(f"/{STORE}/layout")
    plan = layout["plan_image"]
    assert plan == {"url": f"/api/v1/stores/{STORE}/plan-image", "x_m": -1.0, "y_m": -1.0, "width_m": PLAN_WIDTH_M,
                    "height_m": PLAN_WIDTH_M * PLAN_PX[1] / PLAN_PX[0]}  # fmt: skip
    x0, y0, x1, y1 = layout["bounds_m"]
    assert (x0, y0) == (-1.0, -1.0) and x1 >= plan["x_m"] + plan["width_m"] and y1 >= plan["y_m"] + plan["height_m"]
    status, headers, body = dash.api(f"/{STORE}/plan-image")
    assert status == 200 and headers["Content-Type"] == "image/png"
    assert body == (dash.data_dir.parent / "plan.png").read_bytes()
    assert dash.api(f"/{STORE}/plan-image", "bob")[0] == 403  # another store's manager


def test_grants_roles_and_credentials(dash: Dash) -> None:
    assert dash.ok("", "ana")["stores"] == [STORE]
    assert dash.ok("", "bob")["stores"] == []
    status, headers, body = dash.api(f"/{STORE}/overview", None)
    assert status == 401 and headers["WWW-Authenticate"].startswith("Basic")
    assert dash.api(f"/{STORE}/overview", "ana", "wrong")[0] == 401
    status, _, body = dash.api(f"/{STORE}/overview?at={AT_NS}", "bob")
    assert status == 403 and "not granted" in body["error"]
    assert dash.ok(f"/{STORE}/overview?at={AT_NS}", "mia")["visits_today"] > 0  # the store's manager
    assert dash.api("/store-999/overview", "mia")[0] == 403
    assert dash.api("/nowhere/overview", "ana")[0] == 404
    # A partner reads the k-anonymous heatmap, and nothing built from single visits.
    status, _, body = dash.api(f"/{STORE}/overview?at={AT_NS}", "pat")
    assert status == 403 and body["code"] == "ACCESS_DENIED"
    shared = dash.ok(f"/{STORE}/heatmap?{DAY}", "pat")
    assert shared["k_anonymous"] and len(shared["cells"]) <= len(dash.ok(f"/{STORE}/heatmap?{DAY}")["cells"])
    assert dash.api(f"/{STORE}/trends?{DAY}&bucket=7m", "ana")[0] == 400


def test_live_events_reach_the_stream(dash: Dash) -> None:
    auth = "Basic " + base64.b64encode(f"mia:{PASSWORDS['mia']}".encode()).decode()
    request = urllib.request.Request(f"http://127.0.0.1:{dash.port}/api/v1/stores/{STORE}/live",
                                     headers={"Authorization": auth})  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        assert response.readline().startswith(b"retry:")  # the watcher is registered once this arrives

        publish_occupancy(dash.nats_url, 77, AT_NS + DAY_NS)
        for raw in response:
            line = raw.decode()
            if line.startswith("data: ") and json.loads(line[6:]).get("occupancy", {}).get("people") == 77:
                break


def test_whatif_two_layout_versions(dash: Dash, tmp_path: Path) -> None:
    """The A/B page's two layout versions: none before a what-if; after `footfall whatif` (through serve's
    socket) with a zone shrunk, the route gives the what-if's own measures against live, the live visits
    equal SQL, and the product zone's stays fall; a partner, another store's manager and an unknown id
    are refused."""
    empty = dash.ok(f"/{STORE}/whatif")
    assert empty["whatifs"] == [] and empty["chosen"] is None
    report, zone_id = build_whatif(dash, tmp_path)

    got = dash.ok(f"/{STORE}/whatif")
    assert [w["whatif_id"] for w in got["whatifs"]] == [report["whatif_id"]]
    chosen = got["chosen"]
    assert chosen["whatif_id"] == report["whatif_id"] and chosen["measures"] == report["measures"]
    assert chosen["live_layout_versions"] == report["live_layout_versions"]
    assert chosen["from"] == "2026-01-01T11:00:00+01:00" and chosen["to"] == "2026-01-01T11:31:00+01:00"
    (visits,) = [m for m in chosen["measures"] if m["measure"] == "visits" and not m["subject"]]
    ((live,),) = dash.sql("SELECT countIf(NOT is_staff) FROM visits WHERE started >= toDateTime64({a:Int64}, 9) "
                          "AND started < toDateTime64({b:Int64}, 9)", a=T0_NS // 10**9,
                          b=T0_NS // 10**9 + 31 * 60)  # fmt: skip
    assert visits["live"] == live > 0
    (stays,) = [m for m in chosen["measures"] if m["measure"] == "stays" and m["subject"] == zone_id]
    assert stays["whatif"] < stays["live"], stays
    assert dash.ok(f"/{STORE}/whatif?id={report['whatif_id']}")["chosen"] == chosen
    status, _, body = dash.api(f"/{STORE}/whatif?id=nosuch", "ana")
    assert status == 404 and "nosuch" in body["error"]
    status, _, body = dash.api(f"/{STORE}/whatif", "pat")
    assert status == 403 and body["code"] == "ACCESS_DENIED"
    assert dash.api(f"/{STORE}/whatif", "bob")[0] == 403
