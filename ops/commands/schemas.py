"""`footfall schemas`: export JSON Schemas of the contract and regenerate golden vectors."""

from __future__ import annotations

import argparse
from pathlib import Path

from ops.cli import CommandTree


def register(tree: CommandTree) -> None:
    tree.group("schemas", "The event contract: JSON Schema export and golden vectors.")
    export = tree.add("schemas export", "Write a JSON Schema (draft 2020-12) per event and config type.", _export)
    export.add_argument("directory", type=Path, help="output directory (created if missing)")
    vectors = tree.add(
        "schemas vectors",
        "Check (default) or rewrite the golden vectors in schemas/vectors/.",
        _vectors,
        description="Check (default) or rewrite the golden vectors in schemas/vectors/. A change to a vector is "
        "a wire change: Go decodes the same files.",
    )
    vectors.add_argument("--write", action="store_true", help="rewrite the vectors instead of checking them")
    size = tree.add(
        "schemas size",
        "Print the encoded size (bytes) of a TrackFrame in MessagePack and JSON, as JSON.",
        _size,
        description="Encode a seeded TrackFrame with N tracks (floor positions in metres, 3 decimals; "
        "normalised boxes, 4 decimals) and print its size in MessagePack and in JSON.",
    )
    size.add_argument("--tracks", type=int, default=10, help="tracks in the frame (default: 10)")
    size.add_argument("--uncalibrated", action="store_true", help="tracks without floor positions")
    ddl = tree.add(
        "schemas ddl",
        "Print footfall's tables as DDL for a ClickHouse cluster (Replicated tables and Distributed over them).",
        _ddl,
        description="Print every table footfall creates (the runner's checkpoints and versions, every "
        "projection's tables) as ClickHouse cluster DDL: <table>_local ON CLUSTER as the Replicated form of "
        "its engine with the replicated insert-dedup window, and <table> as a Distributed table over them, "
        "sharded by store. Apply it with clickhouse-client --multiquery before pointing footfall at the "
        "cluster (FOOTFALL_CLICKHOUSE_URL).",
    )
    ddl.add_argument("--cluster", required=True, help="the cluster's name in the servers' remote_servers")
    ddl.add_argument("--database", default="footfall", help="database (default: %(default)s)")


def _export(args: argparse.Namespace) -> int:
    from schemas.export import export_json_schemas

    for path in export_json_schemas(args.directory):
        print(path)
    return 0


def _vectors(args: argparse.Namespace) -> int:
    from schemas.export import VECTORS_DIR, vector_files, write_vectors

    if args.write:
        for path in write_vectors():
            print(path)
        return 0
    stale = [
        name
        for name, content in vector_files().items()
        if not (VECTORS_DIR / name).exists() or (VECTORS_DIR / name).read_bytes() != content
    ]
    for name in stale:
        print(f"stale: {VECTORS_DIR / name}")
    return 1 if stale else 0


def _size(args: argparse.Namespace) -> int:
    import json
    import random

    from schemas import Track, TrackFrame, encode, encode_json

    if args.tracks < 0:
        raise SystemExit(f"footfall schemas size: --tracks must be >= 0, got {args.tracks}")
    rng = random.Random(1)
    tracks = []
    for i in range(args.tracks):
        x1, y1 = rng.uniform(0, 0.8), rng.uniform(0, 0.6)
        floor = None if args.uncalibrated else (round(rng.uniform(-10, 10), 3), round(rng.uniform(-10, 10), 3))
        tracks.append(
            Track(1000 + i, round(x1, 4), round(y1, 4), round(x1 + 0.05, 4), round(y1 + 0.3, 4),
                  round(rng.uniform(0.3, 1.0), 3), floor_x_m=floor and floor[0], floor_y_m=floor and floor[1])
        )  # fmt: skip
    frame = TrackFrame(store_id="store-001", ts_ns=1_767_225_600_123_456_789, camera_id="cam-entrance",
                       edge_run_id="run-7f3a9c", frame_seq=123_456, tracks=tuple(tracks))  # fmt: skip
    sizes = {"tracks": args.tracks, "calibrated": not args.uncalibrated,
             "msgpack_bytes": len(encode(frame)), "json_bytes": len(encode_json(frame))}  # fmt: skip
    print(json.dumps(sizes))
    return 0


def _ddl(args: argparse.Namespace) -> int:
    import sys

    from projections.cluster_ddl import ClusterDdlError, cluster_ddl, footfall_statements

    try:
        statements = cluster_ddl(footfall_statements(args.database), args.cluster)
    except ClusterDdlError as exc:
        print(f"footfall schemas ddl: {exc}", file=sys.stderr)
        return 2
    print(";\n\n".join(statements) + ";")
    return 0
