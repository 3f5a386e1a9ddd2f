"""The stores serve knows and their current layouts, from the layout stream (FF_LAYOUT), for the dashboard.

The dashboard needs each store's time zone (local days, hours) and its floor (zones, lines, cameras in
metres). FF_LAYOUT is small and kept forever: it is read in full once and then re-read for what is new,
at most once every `refresh_s`, on the request that finds the copy stale.
"""

from __future__ import annotations

import asyncio
import time
from zoneinfo import ZoneInfo

import msgspec
from nats.js import JetStreamContext

from ml_core.geometry.homography import apply_homography
from projections.layouts import LayoutHistory
from schemas.layout import StoreLayout
from stream.layouts import LayoutReader


class FloorZone(msgspec.Struct):
    zone_id: str
    kind: str
    label: str
    polygon_m: list[tuple[float, float]]


class FloorLine(msgspec.Struct):
    """A counting line from a to b (metres); `inward` is the side (walking a -> b) that counts as entering."""

    line_id: str
    label: str
    a_m: tuple[float, float]
    b_m: tuple[float, float]
    inward: str


class FloorCamera(msgspec.Struct):
    """A camera's field of view on the floor: the image's corners through its homography (metres)."""

    camera_id: str
    label: str
    view_m: list[tuple[float, float]]


class PlanPlacement(msgspec.Struct):
    """Where the store's plan image lies on the floor: its URL, top-left corner and size in metres."""

    url: str
    x_m: float
    y_m: float
    width_m: float
    height_m: float


class FloorPlan(msgspec.Struct):
    store_id: str
    layout_version: int
    time_zone: str
    bounds_m: tuple[float, float, float, float]  # x_min, y_min, x_max, y_max over zones, lines, views and plan
    zones: list[FloorZone]
    lines: list[FloorLine]
    cameras: list[FloorCamera]
    plan_image: PlanPlacement | None = None


# The image's bottom two thirds: the top of a tilted view reaches the horizon, where the homography diverges.
_VIEW_CORNERS = [(0.0, 1.0), (1.0, 1.0), (1.0, 0.33), (0.0, 0.33)]


def floor_plan(store_id: str, version: int, layout: StoreLayout, plan: PlanPlacement | None = None) -> FloorPlan:
    """The layout as the floor plan draws it, in metres, over the store's plan image if it has one."""
    import numpy as np

    cameras = []
    for cam in layout.cameras:
        h = np.asarray(cam.image_to_floor, dtype=np.float64).reshape(3, 3)
        pts = apply_homography(h, np.asarray(_VIEW_CORNERS, dtype=np.float64))
        if np.all(np.isfinite(pts)):
            cameras.append(FloorCamera(cam.camera_id, cam.label, [(round(float(x), 3), round(float(y), 3))
                                                                  for x, y in pts]))  # fmt: skip
    zones = [FloorZone(z.zone_id, z.kind.value, z.label, [(float(x), float(y)) for x, y in z.polygon])
             for z in layout.zones]  # fmt: skip
    lines = [FloorLine(ln.line_id, ln.label, (float(ln.a[0]), float(ln.a[1])), (float(ln.b[0]), float(ln.b[1])),
                       ln.inward) for ln in layout.lines]  # fmt: skip
    xs = [p[0] for z in zones for p in z.polygon_m] + [p[0] for ln in lines for p in (ln.a_m, ln.b_m)]
    ys = [p[1] for z in zones for p in z.polygon_m] + [p[1] for ln in lines for p in (ln.a_m, ln.b_m)]
    if plan is not None:
        xs += [plan.x_m, plan.x_m + plan.width_m]
        ys += [plan.y_m, plan.y_m + plan.height_m]
    bounds = (min(xs), min(ys), max(xs), max(ys)) if xs else (0.0, 0.0, 1.0, 1.0)
    return FloorPlan(store_id, version, layout.time_zone, bounds, zones, lines, cameras, plan)


class StoreLayouts:
    """Each store's layout history, followed from FF_LAYOUT."""

    def __init__(self, js: JetStreamContext, refresh_s: float = 5.0) -> None:
        self._reader = LayoutReader(js)
        self._refresh_s = refresh_s
        self._read_at = float("-inf")
        self._histories: dict[str, LayoutHistory] = {}
        self._lock = asyncio.Lock()

    async def refresh(self, *, force: bool = False) -> None:
        async with self._lock:
            if not force and time.monotonic() - self._read_at < self._refresh_s:
                return
            for published in await self._reader.read_new():
                history = self._histories.setdefault(published.store_id, LayoutHistory(published.store_id))
                history.add(published)
            self._read_at = time.monotonic()

    async def stores(self) -> list[str]:
        await self.refresh()
        return sorted(self._histories)

    async def current(self, store_id: str, at_ns: int | None = None) -> tuple[int, StoreLayout] | None:
        """(version, layout) in force at `at_ns` (default: the newest version), None for an unknown store."""
        await self.refresh()
        history = self._histories.get(store_id)
        if history is None:
            # A store whose first layout arrived since the last read: look once more before saying no.
            await self.refresh(force=True)
            history = self._histories.get(store_id)
        if history is None or not len(history):
            return None
        if at_ns is None:
            newest = max(history.published(), key=lambda p: (p.effective_from_ns, p.version))
            return newest.version, newest.layout
        version, layout = history.at(at_ns)
        if layout is None:
            first = history.published()[0]
            return first.version, first.layout
        return version, layout

    async def history(self, store_id: str) -> LayoutHistory | None:
        """The store's layout history as read so far (None for an unknown store)."""
        if await self.current(store_id) is None:
            return None
        return self._histories[store_id]

    async def time_zone(self, store_id: str) -> ZoneInfo | None:
        found = await self.current(store_id)
        return None if found is None else found[1].tz
