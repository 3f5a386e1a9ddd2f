"""Rendering the heatmap over the store's floor plan (matplotlib, Agg): zones outlined and labelled."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from projections.store import Store
from schemas.layout import StoreLayout


@dataclass(frozen=True)
class HeatCells:
    """Presence seconds and distinct tracks per cell: cell_x, cell_y (n,) ints; cell_m metres."""

    cell_m: float
    cell_x: np.ndarray
    cell_y: np.ndarray
    presence_s: np.ndarray
    tracks: np.ndarray


@dataclass(frozen=True)
class FloorPlanImage:
    """A drawing of the store to put under the heatmap: image (H, W, 3 or 4) and the floor area it covers,
    extent_m = (x_left, y_bottom, x_right, y_top) in floor metres (the image's top row is y_top)."""

    image: np.ndarray
    extent_m: tuple[float, float, float, float]

    @classmethod
    def read(cls, path: Path, extent_m: tuple[float, float, float, float]) -> FloorPlanImage:
        """Read a PNG or JPEG; ValueError names the path or the extent when either is unusable."""
        import matplotlib.image

        x0, y0, x1, y1 = extent_m
        if not (x1 > x0 and y1 > y0):
            raise ValueError(f"plan extent must have x_right > x_left and y_top > y_bottom, got {extent_m}")
        try:
            image = matplotlib.image.imread(path)
        except (OSError, ValueError, SyntaxError) as exc:
            raise ValueError(f"cannot read the floor plan image {path}: {exc}") from exc
        return cls(np.asarray(image), (x0, y0, x1, y1))


def query_heat(store: Store, store_id: str, from_s: int, to_s: int, cell_m: float) -> HeatCells:
    """Sum the heatmap table over [from_s, to_s) (seconds since the epoch; 5-minute buckets)."""
    rows = store.query_rows(
        f"SELECT cell_x, cell_y, sum(presence_s), uniqExact(track) FROM {store.database}.heatmap "
        f"WHERE store_id = '{store_id}' AND bucket_start >= toDateTime({from_s}, 'UTC') "
        f"AND bucket_start < toDateTime({to_s}, 'UTC') AND abs(cell_m - {cell_m}) < 1e-6 GROUP BY cell_x, cell_y"
    )
    arr = np.array(rows, dtype=np.float64).reshape(-1, 4)
    return HeatCells(cell_m, arr[:, 0].astype(int), arr[:, 1].astype(int), arr[:, 2], arr[:, 3].astype(int))


def render_heatmap(
    cells: HeatCells, layout: StoreLayout | None, out: Path, title: str, plan: FloorPlanImage | None = None
) -> None:
    """Draw presence seconds per cell (log colour scale) over the plan image if given, under the zones; write a
    PNG to `out`. Without an image the plan is drawn from the layout: zones outlined and labelled, lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    fig, ax = plt.subplots(figsize=(10, 7.5), dpi=110)
    if plan is not None:
        x0m, y0m, x1m, y1m = plan.extent_m
        ax.imshow(plan.image, origin="upper", extent=(x0m, x1m, y0m, y1m), zorder=0)
    if len(cells.cell_x):
        x0, x1 = int(cells.cell_x.min()), int(cells.cell_x.max()) + 1
        y0, y1 = int(cells.cell_y.min()), int(cells.cell_y.max()) + 1
        grid = np.full((y1 - y0, x1 - x0), np.nan)
        grid[cells.cell_y - y0, cells.cell_x - x0] = np.maximum(cells.presence_s, 1e-3)
        m = cells.cell_m
        image = ax.imshow(grid, origin="lower", extent=(x0 * m, x1 * m, y0 * m, y1 * m), cmap="inferno",
                          norm=LogNorm(vmin=max(np.nanmin(grid), 0.5), vmax=np.nanmax(grid)),
                          alpha=0.9 if plan is None else 0.7)  # fmt: skip
        fig.colorbar(image, ax=ax, label="presence (seconds per cell)")
    if layout is not None:
        for zone in layout.zones:
            pts = np.array([*zone.polygon, zone.polygon[0]])
            ax.plot(pts[:, 0], pts[:, 1], color="#3aa0ff", linewidth=1.4)
            cx, cy = np.mean(np.array(zone.polygon), axis=0)
            ax.text(cx, cy, zone.label or zone.zone_id, ha="center", va="center", fontsize=8, color="white",
                    bbox={"facecolor": "#1f3b57", "alpha": 0.6, "pad": 1.5, "edgecolor": "none"})  # fmt: skip
        for line in layout.lines:
            ax.plot([line.a[0], line.b[0]], [line.a[1], line.b[1]], color="#00e676", linewidth=3)
            ax.text(*line.a, line.label or line.line_id, fontsize=7, color="#00e676", va="top")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.set_aspect("equal")
    ax.set_facecolor("#202020")
    ax.set_title(title)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, bbox_inches="tight")
    plt.close(fig)
