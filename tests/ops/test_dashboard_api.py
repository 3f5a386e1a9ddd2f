"""The dashboard's JSON API on a real `footfall serve` (real nats-server and chDB) over two simulated days.

The store keeps Paris time; a short day a week before the main day gives "same weekday last week". Each
number the API gives is checked against the same measure asked of the SQL endpoint, so the API's own
arithmetic (local buckets, roll-ups, ratios) is what is under test.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import msgspec
import nats
import pytest

from ml_core.sim.agents import ShopperConfig
from ops.bench.serve import footfall_command, footfall_env, free_port
from ops.serve.config import hash_password
from ops.simulation.pipeline import publish_day
from ops.simulation.simulate import T0_NS, simulate_day
from schemas.events import OccupancySampled
from schemas.layout import AlertRule
from stream.embedded import EmbeddedNats
from stream.publisher import Publisher
from tests.ops.test_serve import Serve, _wait_caught_up

STORE = "store-001"
TZ = "Europe/Paris"
PASSWORDS = {"ana": "ana-secret", "bob": "bob-secret", "pat": "pat-secret", "mia": "mia-secret"}
DAY_NS = 86_400 * 10**9
DAY_S = 1800.0
AT_NS = T0_NS + int((DAY_S + 120) * 1e9)  # two minutes after the simulated half hour
# Paris is UTC+1 in January: the local day of T0 (2026-01-01T10:00Z) starts at 2025-12-31T23:00Z.
MIDNIGHT_S = (T0_NS // 10**9) - 11 * 3600


def _days() -> list[Any]:
    day = simulate_day(3, shopper=ShopperConfig(duration_s=DAY_S, parties_per_hour=200.0), cameras=1, store_id=STORE)
    rule = AlertRule(rule_id="crowded", metric="occupancy", threshold=4.0, min_duration_s=10.0, clear_after_s=10.0)
    layout = msgspec.structs.replace(day.layout.layout, time_zone=TZ, rules=(rule,))
    published = msgspec.structs.replace(day.layout, layout=layout)
    earlier = simulate_day(5, shopper=ShopperConfig(duration_s=900.0, parties_per_hour=200.0), cameras=1,
                           store_id=STORE, t0_ns=T0_NS - 7 * DAY_NS, edge_run_id="sim-run-0")  # fmt: skip
    return [dataclasses.replace(earlier, layout=published), dataclasses.replace(day, layout=published)]


async def _publish(url: str) -> None:
    nc = await nats.connect(url)
    try:
        for day in _days():
            await publish_day(nc, day)
    finally:
        await nc.close()


class Dash(Serve):
    nats_url = ""

    def api(self, path: str, user: str | None = "ana", password: str | None = None) -> tuple[int, Any, Any]:
        headers = {}
        if user is not None:
            secret = password if password is not None else PASSWORDS[user]
            headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/api/v1/stores{path}", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                body = response.read()
                return response.status, response.headers, json.loads(body) if body[:1] in b"[{" else body
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers, json.loads(exc.read())

    def ok(self, path: str, user: str = "ana") -> Any:
        status, _, body = self.api(path, user)
        assert status == 200, body
        return body

    def sql(self, query: str, **params: object) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.client().query(query, parameters=params).result_rows]


@pytest.fixture(scope="module")
def dash(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dash]:
    import signal
    import subprocess

    root = tmp_path_factory.mktemp("dash")
    config = root / "serve.toml"
    extras = ["", 'stores = ["store-999"]\n', 'role = "partner"\n', f'stores = ["{STORE}"]\n']
    users = "".join(f'\n[[users]]\nname = "{name}"\npassword_scrypt = "{hash_password(pw)}"\n' + extra
                    for (name, pw), extra in zip(PASSWORDS.items(), extras, strict=True))  # fmt: skip
    config.write_text(f"[targets]\nwait_s = 60.0\ncustomers_per_staff = 10.0\n{users}")
    with EmbeddedNats(root / "nats") as server:
        asyncio.run(_publish(server.url))
        port = free_port()
        command = footfall_command("serve", "--url", server.url, "--data-dir", str(root / "data"), "--listen",
                                   f"127.0.0.1:{port}", "--config", str(config))  # fmt: skip
        proc = subprocess.Popen(command, env=footfall_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        handle = Dash(proc, port, root / "data")
        handle.nats_url = server.url
        try:
            _wait_caught_up(handle)
            yield handle
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    raise
            output = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            assert proc.returncode == 0, output[-3000:]


DAY = f"from=2026-01-01&to=2026-01-02&at={AT_NS}"


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

        async def publish() -> None:
            nc = await nats.connect(dash.nats_url)
            try:
                event = OccupancySampled(store_id=STORE, ts_ns=AT_NS + DAY_NS, zone_id=None, people=77,
                                         layout_version=1, processor_version="test")  # fmt: skip
                publisher = Publisher(nc.jetstream())
                await publisher.publish(event)
                await publisher.flush()
            finally:
                await nc.close()

        asyncio.run(publish())
        for raw in response:
            line = raw.decode()
            if line.startswith("data: ") and json.loads(line[6:]).get("occupancy", {}).get("people") == 77:
                break
