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
