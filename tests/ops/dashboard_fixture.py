"""The dashboard's serve, shared by the API, browser and report tests: one `footfall serve` a module.

A real nats-server and chDB over two simulated days of one store in Paris time (a half hour on
2026-01-01 and a quarter hour a week before, for "same weekday last week"), with an alert rule that the
crowd trips, users of each kind: ana (every store), bob (another store), pat (partner), mia (the store's
manager).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import nats
import pytest

from ml_core.sim.agents import ShopperConfig
from ops.bench.serve import footfall_command, footfall_env, serve_process
from ops.serve.config import hash_password
from ops.simulation.pipeline import publish_day
from ops.simulation.simulate import T0_NS, simulate_day
from schemas.events import OccupancySampled
from schemas.layout import AlertRule, ZoneKind
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


def simulated_days() -> list[Any]:
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
        for day in simulated_days():
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


# Per module, not per session: an idle serve and nats-server would otherwise sit beside the rest of the
# suite (the crash tests count kills against the clock of a machine with two cores).
@pytest.fixture(scope="module")
def dash(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dash]:
    root = tmp_path_factory.mktemp("dash")
    config = root / "serve.toml"
    extras = ["", 'stores = ["store-999"]\n', 'role = "partner"\n', f'stores = ["{STORE}"]\n']
    users = "".join(f'\n[[users]]\nname = "{name}"\npassword_scrypt = "{hash_password(pw)}"\n' + extra
                    for (name, pw), extra in zip(PASSWORDS.items(), extras, strict=True))  # fmt: skip
    write_plan_image(root / "plan.png")
    plan = f'\n[plans.{STORE}]\nimage = "plan.png"\nwidth_m = {PLAN_WIDTH_M}\nx_m = -1.0\ny_m = -1.0\n'
    config.write_text(f"[targets]\nwait_s = 60.0\ncustomers_per_staff = 10.0\n{users}{plan}")
    with EmbeddedNats(root / "nats") as server:
        asyncio.run(_publish(server.url))
        with serve_process(server.url, root / "data", "--config", str(config), output=subprocess.PIPE) as (proc, port):
            handle = Dash(proc, port, root / "data")
            handle.nats_url = server.url
            _wait_caught_up(handle)
            yield handle
        output = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
        assert proc.returncode == 0, output[-3000:]


def build_whatif(dash: Dash, tmp_path: Path) -> tuple[dict[str, Any], str]:
    """`footfall whatif` through the dash's serve over the main day's half hour, under the live layout with
    its first product zone shrunk to half its size about its centre: (the --json report, that zone's id)."""
    layout = simulated_days()[1].layout.layout
    zone = next(z for z in layout.zones if z.kind is ZoneKind.PRODUCT)
    cx = sum(p[0] for p in zone.polygon) / len(zone.polygon)
    cy = sum(p[1] for p in zone.polygon) / len(zone.polygon)
    shrunk = tuple((cx + (x - cx) / 2, cy + (y - cy) / 2) for x, y in zone.polygon)
    zones = tuple(msgspec.structs.replace(z, polygon=shrunk) if z is zone else z for z in layout.zones)
    candidate = tmp_path / "candidate.json"
    candidate.write_bytes(msgspec.json.encode(msgspec.structs.replace(layout, zones=zones)))
    command = footfall_command("whatif", "--layout", str(candidate), "--from", "2026-01-01T10:00:00Z",
                               "--to", "2026-01-01T10:31:00Z", "--data-dir", str(dash.data_dir), "--json")  # fmt: skip
    result = subprocess.run(command, env=footfall_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout), zone.zone_id


PLAN_WIDTH_M, PLAN_PX = 24.0, (480, 360)  # the plan image: metres wide on the floor, (width, height) in pixels
PLAN_BGR = (0, 255, 0)  # pure green: no colour of the dashboard's own


def write_plan_image(path: Path) -> None:
    """A plan drawing for the floor page: green with a grid, PLAN_PX pixels."""
    import cv2
    import numpy as np

    image = np.zeros((PLAN_PX[1], PLAN_PX[0], 3), np.uint8)
    image[:] = PLAN_BGR
    image[::40, :] = image[:, ::40] = (40, 40, 40)
    cv2.imwrite(str(path), image)


def publish_occupancy(url: str, people: int, ts_ns: int) -> None:
    """Publish one store-wide OccupancySampled to FF_DERIVED, as the zone processor would."""

    async def publish() -> None:
        nc = await nats.connect(url)
        try:
            publisher = Publisher(nc.jetstream())
            await publisher.publish(OccupancySampled(store_id=STORE, ts_ns=ts_ns, zone_id=None, people=people,
                                                     layout_version=1, processor_version="test"))  # fmt: skip
            await publisher.flush()
        finally:
            await nc.close()

    asyncio.run(publish())


DAY = f"from=2026-01-01&to=2026-01-02&at={AT_NS}"
