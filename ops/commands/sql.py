"""`footfall sql`: run ClickHouse SQL against the embedded store."""

from __future__ import annotations

import argparse
import sys

from ops.cli import CommandTree
from ops.paths import DataDir, add_data_dir_argument

_EXAMPLE = """\
examples:
  footfall sql --data-dir .footfall/demo \\
    "SELECT bucket_start, sum(entries) AS entries, sum(exits) AS exits
     FROM line_counts GROUP BY bucket_start ORDER BY bucket_start"
  footfall sql --format CSV "SELECT * FROM line_counts"

Unqualified table names resolve to the `footfall` database.
"""


def register(tree: CommandTree) -> None:
    parser = tree.add(
        "sql",
        "Run a ClickHouse SQL query against the embedded chDB store and print the result.",
        _run,
        description="Run a ClickHouse SQL query against the embedded chDB store and print the result.\n\n" + _EXAMPLE,
    )
    parser.add_argument("query", help="the SQL query; '-' reads it from standard input")
    parser.add_argument(
        "--format",
        default="PrettyCompactMonoBlock",
        help="any ClickHouse output format: PrettyCompactMonoBlock (default), CSV, TSVWithNames, JSONEachRow, ...",
    )
    add_data_dir_argument(parser)


def _run(args: argparse.Namespace) -> int:
    from ops.serve.sql_socket import query_via_owner
    from projections.store import ChdbStore, StoreError

    query = sys.stdin.read() if args.query == "-" else args.query
    data = DataDir(args.data_dir)
    # A running `footfall project` owns the chDB directory: ask it.
    answer = query_via_owner(data.root, query, args.format)
    if answer is not None:
        if not answer.ok:
            print(f"footfall sql: {answer.error}", file=sys.stderr)
            return 1
        sys.stdout.write(answer.text)
        return 0
    if not data.chdb.exists():
        print(
            f"footfall sql: no store at {data.chdb} (run `footfall demo` or a projection first, or pass --data-dir)",
            file=sys.stderr,
        )
        return 2
    try:
        store = ChdbStore(data.chdb)
        sys.stdout.write(store.query_text(query, args.format))
    except StoreError as exc:
        print(f"footfall sql: {exc}", file=sys.stderr)
        return 1
    return 0
