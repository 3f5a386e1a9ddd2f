"""`footfall serve` and `footfall hash-password`: one process owns the store and answers SQL clients."""

from __future__ import annotations

import argparse
import sys

from ops.cli import CommandTree
from ops.runtime import add_log_arguments

_HELP = """\
Run a store on this machine in one process: the log (the embedded
nats-server under --data-dir, or --url), every projection live, and a
ClickHouse-compatible HTTP endpoint on --listen that analysts' own tools
(clickhouse-connect, Grafana, DBeaver, curl) connect to, read-only, with
/metrics (Prometheus), /healthz and /readyz beside it. While it runs,
`footfall sql` and `footfall replay` are carried out by it (the data
directory's socket): a replay builds beside the live tables and swaps them in
while they keep answering. SIGTERM or Ctrl-C drain: running queries are
answered, new ones refused, every projection marks its batch in hand.

--config serve.toml (unknown keys are an error):
  listen = "0.0.0.0:8123"
  [limits]
  max_execution_time_s = 30.0
  max_result_rows = 1000000
  max_result_bytes = 268435456
  max_concurrent_queries = 8
  [[users]]
  name = "ana"
  password_scrypt = "scrypt$16384$8$1$..."   # footfall hash-password
  role = "analyst"          # analyst: every table; partner: only shared_* views
  stores = ["store-001"]    # default ["*"]: every store

Without users, only `default` with no password from loopback is accepted.

examples:
  footfall serve --data-dir .footfall/demo
  curl 'http://127.0.0.1:8123/?query=SELECT+count()+FROM+visits'
  python -c "import clickhouse_connect as c; print(c.get_client(port=8123).query('SELECT 1').result_rows)"
"""


def register(tree: CommandTree) -> None:
    from projections.registry import PROJECTIONS
    from projections.sizing import BATCH_HELP

    names = ", ".join(sorted(PROJECTIONS))
    serve = tree.add("serve", "Own a store: live projections, the SQL endpoint, replays while live.", _serve,
                     description=_HELP + f"\nprojections: {names}")  # fmt: skip
    serve.add_argument("--listen", default=None, metavar="HOST:PORT",
                       help="SQL endpoint address (default: the config's listen, else 127.0.0.1:8123)")  # fmt: skip
    serve.add_argument("--config", type=__import__("pathlib").Path, default=None, help="serve.toml (or .json)")
    serve.add_argument("--projection", action="append", default=None, metavar="NAME",
                       help=f"run only these projections (repeatable; default all: {names})")  # fmt: skip
    serve.add_argument("--batch", type=int, default=None, help=BATCH_HELP)
    add_log_arguments(serve)

    tree.add("hash-password", "Print the scrypt hash of a password for serve.toml's users.", _hash,
                     description="Reads the password from standard input (one line) and prints the value for "
                     "password_scrypt in serve.toml. Nothing is stored.")  # fmt: skip

    tree.group("bench", "Measure throughput against a peer in the same run (prints JSON).")
    bench = tree.add("bench serve", "Analysts' queries through clickhouse-connect while serve folds a store.", _bench,
                     description="Simulate --days days of a store (--hours of arrivals each), fold all but the last "
                     "in a `footfall serve` process, then publish the last day while --clients clickhouse-connect "
                     "clients run the README's analyst queries for --seconds. Prints JSON: query latency (p50, "
                     "p95, p99, max; p95 per query), errors, events folded during the load, the dashboard's "
                     "figures (each API route's latency over the history, a live tile's latency from a published "
                     "derived event, each page's first render in Chromium when it is installed), and whether every "
                     "table equals a clean `footfall project --until-caught-up` over the same log.")  # fmt: skip
    bench.add_argument("--days", type=int, default=7, help="days of history (default: 7, a week)")
    bench.add_argument("--hours", type=float, default=4.0, help="hours of arrivals per day (default: 4)")
    bench.add_argument("--parties-per-hour", type=float, default=300.0, help="default: 300")
    bench.add_argument("--cameras", type=int, default=3, help="default: 3")
    bench.add_argument("--noise", choices=["none", "realistic"], default="realistic", help="default: realistic")
    bench.add_argument("--seed", type=int, default=1, help="simulator seed of the first day (default: 1)")
    bench.add_argument("--clients", type=int, default=16, help="concurrent SQL clients (default: 16)")
    bench.add_argument("--seconds", type=float, default=60.0, help="length of the query load (default: 60)")
    bench.add_argument("--no-clean-run", action="store_true", help="skip the comparison with a clean run")
    bench.add_argument("--no-dashboard", action="store_true", help="skip the dashboard's figures")


def _serve(args: argparse.Namespace) -> int:
    from ops.serve.config import ServeConfigError, load_serve_config, parse_listen
    from ops.serve.server import ServeOptions, run_serve
    from projections.registry import PROJECTIONS

    try:
        config = load_serve_config(args.config)
        listen = args.listen or config.listen
        parse_listen(listen)
    except ServeConfigError as exc:
        print(f"footfall serve: {exc}", file=sys.stderr)
        return 2
    names = tuple(args.projection or sorted(PROJECTIONS))
    unknown = sorted(set(names) - set(PROJECTIONS))
    if unknown:
        print(f"footfall serve: unknown projection(s) {unknown}; known: {', '.join(sorted(PROJECTIONS))}",
              file=sys.stderr)  # fmt: skip
        return 2
    if args.batch is not None and args.batch < 1:
        print(f"footfall serve: --batch must be at least 1, got {args.batch}", file=sys.stderr)
        return 2
    return run_serve(ServeOptions(args.data_dir, listen, args.url, config, names, args.batch))


def _bench(args: argparse.Namespace) -> int:
    import json

    from ops.bench.serve import ServeBenchConfig, run_bench

    for name in ("days", "cameras", "clients"):
        if getattr(args, name) < 1:
            print(f"footfall bench serve: --{name} must be at least 1, got {getattr(args, name)}", file=sys.stderr)
            return 2
    for name in ("hours", "parties_per_hour", "seconds"):
        if not getattr(args, name) > 0:
            print(f"footfall bench serve: --{name.replace('_', '-')} must be positive, got {getattr(args, name)}",
                  file=sys.stderr)  # fmt: skip
            return 2
    config = ServeBenchConfig(args.days, args.hours, args.parties_per_hour, args.cameras, args.noise, args.seed,
                              args.clients, args.seconds, not args.no_clean_run, not args.no_dashboard)  # fmt: skip
    report = run_bench(config)
    print(json.dumps(report, indent=2))
    return 0 if report["errors"] == 0 and report.get("tables_equal_clean_run", True) else 1


def _hash(_: argparse.Namespace) -> int:
    import getpass

    from ops.serve.config import hash_password

    password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    if not password:
        print("footfall hash-password: empty password", file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0
