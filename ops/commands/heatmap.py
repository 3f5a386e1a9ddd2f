"""`footfall heatmap`: render presence per floor cell over the store's plan to a PNG."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from ops.cli import CommandTree
from ops.runtime import add_log_arguments
from stream.client_auth import client_options


def _when(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an ISO time such as 2026-01-01T10:00:00Z, got {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def register(tree: CommandTree) -> None:
    p = tree.add("heatmap", "Render the heatmap of a time range over the store's floor plan (PNG).", _run,
                 description="Sum presence seconds per floor cell from the heatmap table over [--from, --to) "
                 "(5-minute buckets) and draw them under the layout's zones and lines, over a floor plan image "
                 "if --plan is given (else a plain plan drawn from the layout). The layout is read from the log "
                 "(FF_LAYOUT).")  # fmt: skip
    p.add_argument("--from", dest="start", type=_when, required=True, help="start, ISO 8601 (UTC if no zone)")
    p.add_argument("--to", dest="end", type=_when, required=True, help="end, ISO 8601, exclusive")
    p.add_argument("--out", type=Path, required=True, help="PNG to write")
    p.add_argument("--store", default="sim-store", help="store id (default: sim-store)")
    p.add_argument("--cell-m", type=float, default=0.5, help="cell size the heatmap was built with (default: 0.5)")
    p.add_argument("--plan", type=Path, default=None, help="floor plan image (PNG or JPEG) to draw under the heatmap")
    p.add_argument("--plan-extent-m", type=float, nargs=4, metavar=("X_LEFT", "Y_BOTTOM", "X_RIGHT", "Y_TOP"),
                   default=None, help="floor metres the --plan image covers (required with --plan)")  # fmt: skip
    add_log_arguments(p)


def _run(args: argparse.Namespace) -> int:
    import asyncio

    import nats

    from ops.heatmap_plot import FloorPlanImage, query_heat, render_heatmap
    from ops.runtime import log_url, open_store
    from projections.layouts import LayoutHistory
    from stream.layouts import LayoutReader

    if args.end <= args.start:
        print(f"footfall heatmap: --to must be after --from, got {args.start} .. {args.end}", file=sys.stderr)
        return 2
    plan = None
    if (args.plan is None) != (args.plan_extent_m is None):
        print("footfall heatmap: --plan and --plan-extent-m go together", file=sys.stderr)
        return 2
    if args.plan is not None:
        try:
            plan = FloorPlanImage.read(args.plan, tuple(args.plan_extent_m))
        except ValueError as exc:
            print(f"footfall heatmap: --plan: {exc}", file=sys.stderr)
            return 2

    async def layouts(url: str) -> LayoutHistory:
        nc = await nats.connect(url, name="footfall-heatmap", **client_options())
        try:
            history = LayoutHistory(args.store)
            for published in await LayoutReader(nc.jetstream()).read_new():
                if published.store_id == args.store:
                    history.add(published)
            return history
        finally:
            await nc.close()

    with log_url(args) as url:
        history = asyncio.run(layouts(url))
    from_s, to_s = int(args.start.timestamp()), int(args.end.timestamp())
    with open_store(args.data_dir) as store:
        cells = query_heat(store, args.store, from_s, to_s, args.cell_m)
    layout = history.at(to_s * 1_000_000_000 - 1)[1]
    title = f"{args.store}: presence {args.start:%Y-%m-%d %H:%M} to {args.end:%H:%M} UTC, {len(cells.cell_x)} cells"
    render_heatmap(cells, layout, args.out, title, plan)
    print(f"wrote {args.out} ({len(cells.cell_x)} cells, {cells.presence_s.sum():.0f} presence seconds)")
    return 0
