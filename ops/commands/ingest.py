"""`footfall ingest` and `footfall bench ingest`: the Go ingest service for third-party sensors and POS."""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
from pathlib import Path

from ops.cli import CommandTree
from ops.runtime import add_log_arguments
from stream.client_auth import client_options

_INGEST_HELP = """\
Build go-ingest (if its sources changed) and run it against the log: the
embedded nats-server under --data-dir, or --url. Streams are created first
(as `footfall log init` would). Without --token-file, a token for the
--store ids is generated, its SHA-256 written to <data-dir>/ingest-tokens.json,
and the token printed once. Stops on SIGTERM or Ctrl-C.

  curl -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \\
       -d @events.json http://127.0.0.1:8089/v1/stores/store-001/events
"""


def register(tree: CommandTree) -> None:
    ingest = tree.add("ingest", "Run go-ingest (HTTP ingest for sensors and POS) against the log.", _ingest,
                      description=_INGEST_HELP)  # fmt: skip
    ingest.add_argument("--store", action="append", default=[], help="store id a generated token may write (repeat)")
    ingest.add_argument("--token-file", type=Path, help="token file with SHA-256 hashes (see go-ingest/README.md)")
    ingest.add_argument("--listen", default="127.0.0.1:8089", help="HTTP listen address (default: 127.0.0.1:8089)")
    add_log_arguments(ingest)

    tree.group("bench", "Measure throughput against a peer in the same run (prints JSON).")
    bench = tree.add("bench ingest", "Events/s through go-ingest over HTTP beside raw Go async publishing.", _bench,
                     description="Build and run go-ingest/cmd/ingest-bench: events/s accepted end to end over HTTP "
                     "at several batch sizes, beside raw jetstream async publishing from Go of the same payloads "
                     "in the same run (an in-process nats-server). Prints its JSON.")  # fmt: skip
    bench.add_argument("--batch-sizes", default="1,100,1000", help="events per request (default: 1,100,1000)")
    bench.add_argument("--events", type=int, default=200_000, help="events per measurement (default: 200000)")


def _ingest(args: argparse.Namespace) -> int:
    import asyncio

    import nats

    from ops.go_ingest import GoIngestError, running, write_token_file
    from ops.paths import DataDir
    from ops.runtime import log_url
    from schemas.ids import is_valid_id
    from stream.provision import LogConfig, ensure_streams

    bad = [s for s in args.store if not is_valid_id(s)]
    if bad:
        print(f"footfall ingest: --store must match [a-z0-9][a-z0-9_-]{{0,31}}, got {bad[0]!r}", file=sys.stderr)
        return 2
    token_file = args.token_file
    if token_file is None:
        if not args.store:
            print("footfall ingest: give --token-file, or --store ids to generate a token for", file=sys.stderr)
            return 2
        token_file = DataDir(args.data_dir).root / "ingest-tokens.json"
        token = write_token_file(token_file, args.store)
        print(f"token for {', '.join(args.store)} (shown once; its hash is in {token_file}):\n  {token}")

    async def provision(url: str) -> None:
        nc = await nats.connect(url, **client_options())
        await ensure_streams(nc.jetstream(), LogConfig())
        await nc.close()

    stop = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    with log_url(args) as url:
        asyncio.run(provision(url))
        try:
            with running(url, token_file, listen=args.listen) as base:
                print(f"go-ingest ready at {base}/v1/stores/{{store}}/events (log {url}); Ctrl-C stops it",
                      flush=True)  # fmt: skip
                signal.signal(signal.SIGTERM, on_signal)
                try:
                    while not stop:
                        signal.pause()
                except KeyboardInterrupt:
                    pass
        except GoIngestError as exc:
            print(f"footfall ingest: {exc}", file=sys.stderr)
            return 1
    return 0


def _bench(args: argparse.Namespace) -> int:
    from ops.go_ingest import GoIngestError, build

    try:
        binary = build("ingest-bench")
    except GoIngestError as exc:
        print(f"footfall bench ingest: {exc}", file=sys.stderr)
        return 1
    result = subprocess.run(
        [str(binary), "-batch-sizes", args.batch_sizes, "-events", str(args.events)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        print(f"footfall bench ingest: ingest-bench failed:\n{result.stderr}", file=sys.stderr)
        return 1
    print(json.dumps(json.loads(result.stdout), indent=2))
    return 0
