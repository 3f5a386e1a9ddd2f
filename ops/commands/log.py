"""`footfall log init|status|serve`: provision the event log, show what it holds, run the embedded server."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ops.cli import CommandTree
from ops.paths import DataDir, add_data_dir_argument

if TYPE_CHECKING:
    from stream.provision import LogConfig

_INIT_DESCRIPTION = """\
Create or update every stream of the log (DESIGN.md §3): file storage,
DenyDelete and DenyPurge, the duplicate window, MaxAge/MaxBytes per stream,
replicas (1 embedded, 3 in a cluster). Idempotent: a second run prints
"unchanged" for every stream; a changed limit updates the stream and prints
what changed.

Configuration: --config FILE (.json or .toml, unknown keys are an error), e.g.

  replicas = 1
  duplicate_window_s = 7200
  [limits.FF_TRACKS]
  max_age_s = 604800
  max_bytes = -1

then the flags below on top. Without --url, the embedded server of
--data-dir is used (started for the command, or the one `footfall log serve`
runs there).
"""


def register(tree: CommandTree) -> None:
    tree.group("log", "The event log (NATS JetStream): provision, inspect, serve.")
    init = tree.add(
        "log init", "Create or update the log's streams (idempotent).", _init, description=_INIT_DESCRIPTION
    )
    init.add_argument("--config", type=Path, help="log config file (.json or .toml)")
    init.add_argument("--replicas", type=int, help="stream replicas (1 on one server, 3 in a cluster)")
    init.add_argument("--duplicate-window-s", type=float, help="dedup window in seconds (longer than any edge retry)")
    init.add_argument(
        "--max-age-s", action="append", default=[], metavar="STREAM=SECONDS", help="retention of a stream (0: forever)"
    )
    init.add_argument(
        "--max-bytes", action="append", default=[], metavar="STREAM=BYTES", help="size bound of a stream (-1: none)"
    )
    _add_target(init)
    status = tree.add(
        "log status", "Show each stream's messages, bytes, sequences and times, and its consumers.", _status
    )
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _add_target(status)
    serve = tree.add(
        "log serve",
        "Run the embedded nats-server in the foreground for other processes (prints its URL).",
        _serve,
        description="Run the embedded nats-server of --data-dir in the foreground and print its URL on stdout. "
        "Other footfall commands on the same --data-dir find and use it. Stops cleanly on SIGTERM or Ctrl-C.",
    )
    add_data_dir_argument(serve)


def _add_target(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="NATS URL of a server footfall did not start (default: the embedded one)")
    add_data_dir_argument(parser)


def _pairs(values: list[str], flag: str, cast: type) -> dict[str, object]:
    out: dict[str, object] = {}
    for value in values:
        name, sep, number = value.partition("=")
        if not sep:
            raise SystemExit(f"footfall log init: {flag} takes STREAM=VALUE, got {value!r}")
        try:
            out[name] = cast(number)
        except ValueError:
            raise SystemExit(f"footfall log init: {flag} {name}: expected a number, got {number!r}") from None
    return out


def build_config(args: argparse.Namespace) -> LogConfig:
    """The LogConfig of a `log init` command line: file first, then flags."""
    import msgspec

    from stream.provision import LogConfig, StreamLimits, load_config, with_defaults

    config = load_config(args.config) if args.config else LogConfig()
    if args.replicas is not None:
        config = msgspec.structs.replace(config, replicas=args.replicas)
    if args.duplicate_window_s is not None:
        config = msgspec.structs.replace(config, duplicate_window_s=args.duplicate_window_s)
    limits = dict(config.limits)
    for name, age in _pairs(args.max_age_s, "--max-age-s", float).items():
        current = limits.get(name, StreamLimits(0.0))
        limits[name] = msgspec.structs.replace(current, max_age_s=age)
    for name, size in _pairs(args.max_bytes, "--max-bytes", int).items():
        current = limits.get(name, StreamLimits(0.0))
        limits[name] = msgspec.structs.replace(current, max_bytes=size)
    config = msgspec.structs.replace(config, limits=limits)
    # Re-validate: flags bypass the decoder's constraints.
    return with_defaults(msgspec.convert(msgspec.to_builtins(config), LogConfig))


def _with_log(args: argparse.Namespace, work: object) -> int:
    """Run `work(url)` against --url or the embedded server of --data-dir; translate LogErrors to exit code 1."""
    import asyncio

    from stream.embedded import EmbeddedNats
    from stream.errors import LogError

    command = f"footfall log {args.log_command}"
    try:
        if args.url:
            return asyncio.run(work(args.url))  # type: ignore[operator]
        with EmbeddedNats(DataDir(args.data_dir).nats) as server:
            return asyncio.run(work(server.url))  # type: ignore[operator]
    except LogError as exc:
        print(f"{command}: {exc}", file=sys.stderr)
        return 1


def _init(args: argparse.Namespace) -> int:
    from stream.errors import LogError

    try:
        config = build_config(args)
    except (LogError, ValueError) as exc:
        print(f"footfall log init: {exc}", file=sys.stderr)
        return 2

    async def work(url: str) -> int:
        from stream.connect import connect
        from stream.provision import ensure_streams

        nc = await connect(url)
        try:
            changes = await ensure_streams(nc.jetstream(), config)
        finally:
            await nc.close()
        for change in changes:
            detail = f": {'; '.join(change.changes)}" if change.changes else ""
            print(f"{change.stream:<11} {change.action}{detail}")
        return 0

    return _with_log(args, work)


def _status(args: argparse.Namespace) -> int:
    async def work(url: str) -> int:
        import msgspec

        from stream.connect import connect
        from stream.status import log_status

        nc = await connect(url)
        try:
            streams = await log_status(nc)
        finally:
            await nc.close()
        if args.json:
            print(msgspec.json.encode(streams).decode())
        else:
            print(format_status(streams))
        return 0

    return _with_log(args, work)


def format_status(streams: list) -> str:
    """A table of streams, and under each its consumers."""
    from stream.status import ns_to_rfc3339

    def when(ts_ns: int) -> str:
        return ns_to_rfc3339(ts_ns)[:23] + "Z" if ts_ns else "-"

    lines = [
        f"{'stream':<11} {'messages':>10} {'bytes':>12} {'first_seq':>10} {'first_time':<24} "
        f"{'last_seq':>10} {'last_time':<24}"
    ]
    for s in streams:
        if not s.exists:
            lines.append(f"{s.name:<11} (missing: run `footfall log init`)")
            continue
        lines.append(
            f"{s.name:<11} {s.messages:>10} {s.bytes:>12} {s.first_seq:>10} {when(s.first_ts_ns):<24} "
            f"{s.last_seq:>10} {when(s.last_ts_ns):<24}"
        )
        for c in s.consumers:
            lines.append(
                f"  consumer {c.name}: pending {c.num_pending}, ack pending {c.num_ack_pending}, "
                f"redelivered {c.num_redelivered}{'' if c.durable else ' (ephemeral)'}"
            )
    return "\n".join(lines)


def _serve(args: argparse.Namespace) -> int:
    import signal
    import threading

    from stream.embedded import EmbeddedNats
    from stream.errors import LogError

    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server = EmbeddedNats(DataDir(args.data_dir).nats, reuse_running=False)
    try:
        server.start()
    except LogError as exc:
        print(f"footfall log serve: {exc}", file=sys.stderr)
        return 1
    try:
        print(server.url, flush=True)
        print(
            f"nats-server {server.server_name} (pid {server.pid}) serving {args.data_dir}; Ctrl-C stops it",
            file=sys.stderr,
            flush=True,
        )
        while not stop.wait(0.5):
            if not server.running:
                print(f"footfall log serve: nats-server exited:\n{server.log_tail()}", file=sys.stderr)
                return 1
    finally:
        server.stop()
    return 0
