"""`footfall whatif`: re-derive history under a candidate layout into a scratch version and compare it."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ops.cli import CommandTree
from ops.runtime import add_log_arguments

if TYPE_CHECKING:
    from projections.store import Store

_HELP = """\
Re-derive [--from, --to) under the candidate layout (a StoreLayout JSON file):
FF_TRACKS is read and folded (here, or by the `footfall serve` that owns the
store) by a fresh zone processor under the candidate
alone, its derived events straight into fresh analytics projections, their rows
into scratch tables <table>__whatif_<id> beside the live ones. Nothing is
published to FF_DERIVED and no live table is written. Then visits, entries and
exits per door, stays and dwell (median, p90) per zone, transitions, funnel
stages, queue and occupancy are printed live vs what-if.

Reading starts --warmup-minutes before the window (people already inside are
met there) and goes on --tail-minutes after it (visits begun inside can end);
rows count in the window by when they started.

  footfall whatif --layout candidate.json --from 2026-12-05T09:00Z --to 2026-12-05T21:00Z
  footfall whatif list              # scratch versions (expired ones are dropped)
  footfall whatif drop ID
"""


def register(tree: CommandTree) -> None:
    p = tree.add("whatif", "Re-derive history under a candidate layout (scratch tables) and compare with live.",
                 _run, description=_HELP)  # fmt: skip
    p.add_argument("action", nargs="?", default="run", choices=("run", "list", "drop"),
                   help="run a what-if (default), list scratch versions, or drop one")  # fmt: skip
    p.add_argument("whatif_id", nargs="?", default=None, metavar="ID", help="the scratch version to drop")
    p.add_argument("--layout", type=Path, default=None, help="candidate StoreLayout, JSON")
    p.add_argument("--from", dest="start", default=None, help="window start, ISO 8601 with a zone")
    p.add_argument("--to", dest="end", default=None, help="window end (exclusive), ISO 8601 with a zone")
    p.add_argument("--store", default=None, help="store id (default: the one store the log's layouts name)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--ttl-hours", type=float, default=168.0, help="hours until the scratch version expires (168)")
    p.add_argument("--warmup-minutes", type=float, default=60.0, help="log read before the window (default: 60)")
    p.add_argument("--tail-minutes", type=float, default=60.0, help="log read after the window (default: 60)")
    add_log_arguments(p)


def owned(data_dir: Path) -> bool:
    """Whether a running `footfall serve`/`project` owns the store under data_dir (it answers on its socket)."""
    from ops.serve.sql_socket import owner_connection

    with owner_connection(data_dir) as sock:
        return sock is not None


def _run(args: argparse.Namespace) -> int:
    if args.action == "list":
        return _list(args)
    if args.action == "drop":
        return _drop(args)
    return _whatif(args)


def _list(args: argparse.Namespace) -> int:
    import time
    from datetime import UTC, datetime

    from projections.whatif import expire, list_scratch

    with _store(args) as store:
        expired = expire(store, time.time_ns())
        versions = list_scratch(store)
    if args.json:
        print(json.dumps({"expired_dropped": expired, "versions": [v.__dict__ for v in versions]}, indent=2))
        return 0

    def iso(ns: int) -> str:
        return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%dT%H:%MZ")

    for whatif_id in expired:
        print(f"expired, dropped: {whatif_id}")
    for v in versions:
        print(f"{v.whatif_id}  {v.status:8}  {v.store_id}  layout v{v.layout_version}  {iso(v.from_ns)} .. "
              f"{iso(v.to_ns)}  expires {iso(v.expires_ns)}  {len(v.tables)} tables")  # fmt: skip
    if not versions:
        print("no scratch versions")
    return 0


def _drop(args: argparse.Namespace) -> int:
    from projections.whatif import drop_scratch

    if args.whatif_id is None:
        print("footfall whatif drop: name the scratch version (see `footfall whatif list`)", file=sys.stderr)
        return 2
    try:
        with _store(args) as store:
            found = drop_scratch(store, args.whatif_id)
    except ValueError as exc:
        print(f"footfall whatif drop: {exc}", file=sys.stderr)
        return 2
    print(f"dropped {args.whatif_id}" if found else f"no scratch version {args.whatif_id}")
    return 0 if found else 1


@contextlib.contextmanager
def _store(args: argparse.Namespace) -> Iterator[Store]:
    """The store to list and drop scratch versions in: through its owner's socket when one runs."""
    from ops.runtime import open_store
    from ops.whatif import OwnerStore

    if owned(args.data_dir):
        yield OwnerStore(args.data_dir)
        return
    with open_store(args.data_dir) as store:
        yield store


def _via_owner(args: argparse.Namespace, layout_json: bytes, from_ns: int, to_ns: int, bar: Any) -> int | None:
    """Have the store's owner (`footfall serve`) carry out the what-if; None if no process owns it."""
    from ops.serve.sql_socket import ReplayFailed, WhatIfJob, WhatIfStep, whatif_via_owner

    def progress(p: WhatIfStep) -> None:
        bar.total = max(p.stream_last_seq - p.first_seq + 1, 1)
        bar.update(p.seq - p.first_seq + 1 - bar.n)

    job = WhatIfJob(layout_json, from_ns, to_ns, store_id=args.store, ttl_s=args.ttl_hours * 3600,
                    warmup_s=args.warmup_minutes * 60, tail_s=args.tail_minutes * 60)  # fmt: skip
    answer = whatif_via_owner(args.data_dir, job, progress)
    if answer is None:
        return None
    bar.close()
    if isinstance(answer, ReplayFailed):
        print(f"footfall whatif: {answer.error}", file=sys.stderr)
        return 1
    print(answer.json if args.json else answer.text)
    return 0


def _whatif(args: argparse.Namespace) -> int:
    import asyncio

    from tqdm import tqdm

    from ops.clock import iso_ns
    from ops.runtime import log_url, open_store
    from ops.whatif import StoreChoiceError, report_text, run_whatif
    from projections.store import StoreError
    from projections.whatif import WhatIfError, WhatIfProgress
    from schemas.codec import decode_layout_json
    from schemas.errors import SchemaError

    if args.layout is None or args.start is None or args.end is None:
        print("footfall whatif: --layout, --from and --to are required", file=sys.stderr)
        return 2
    try:
        from_ns, to_ns = iso_ns(args.start), iso_ns(args.end)
        layout_json = args.layout.read_bytes()
        layout = decode_layout_json(layout_json)
    except (ValueError, OSError, SchemaError) as exc:
        print(f"footfall whatif: {exc}", file=sys.stderr)
        return 2
    if to_ns <= from_ns:
        print(f"footfall whatif: --to must be after --from, got {args.start} .. {args.end}", file=sys.stderr)
        return 2
    # Redrawn at most once a second: off a terminal every redraw is another line in the log.
    bar = tqdm(desc="whatif", unit="msg", unit_scale=True, file=sys.stderr, dynamic_ncols=True, mininterval=1.0)
    owner = _via_owner(args, layout_json, from_ns, to_ns, bar)
    if owner is not None:
        return owner

    def progress(p: WhatIfProgress) -> None:
        bar.total = max(p.stream_last_seq - p.first_seq + 1, 1)
        bar.update(p.seq - p.first_seq + 1 - bar.n)

    try:
        with log_url(args) as url, open_store(args.data_dir) as store:
            report = asyncio.run(run_whatif(url, store, layout, from_ns, to_ns, store_id=args.store,
                                            ttl_s=args.ttl_hours * 3600, warmup_s=args.warmup_minutes * 60,
                                            tail_s=args.tail_minutes * 60, progress=progress))  # fmt: skip
    except (StoreChoiceError, WhatIfError, StoreError) as exc:
        print(f"footfall whatif: {exc}", file=sys.stderr)
        return 1
    finally:
        bar.close()
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
        return 0
    print(report_text(report))
    return 0
