"""`footfall log init|status|serve`: provision the event log, show what it holds, run the embedded server."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ops.cli import CommandTree
from ops.paths import DataDir, add_data_dir_argument
from ops.runtime import add_client_auth_arguments

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
    init.add_argument(
        "--topology",
        type=Path,
        help="topology.toml: provision the hub's streams (replicas, and FF_TRACKS/FF_STATUS/FF_POS sourcing every "
        "store's leaf domain) on --url, else on the hub's own client URLs; the other config flags do not apply",
    )
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
        "Other footfall commands on the same --data-dir find and use it. Stops cleanly on SIGTERM or Ctrl-C.\n\n"
        "With --leaf-of it is a store's leaf node: JetStream in the store's own domain (--domain), its "
        "FF_TRACKS, FF_STATUS and FF_POS streams created for the store's subjects on start, and a leaf "
        "connection to the hub, whose streams source these across the domain (`footfall log init --topology`). "
        "The edge publishes to this server; while the WAN is down it keeps everything, and the hub catches up.",
    )
    add_data_dir_argument(serve)
    serve.add_argument("--leaf-of", metavar="HUB_URL", help="run as a leaf node of this hub (comma-separated URLs)")
    serve.add_argument("--domain", help="the leaf's JetStream domain (with --leaf-of; e.g. the store id)")
    serve.add_argument("--store", help="store id whose subjects the leaf's streams capture (default: --domain)")
    serve.add_argument("--credentials", type=Path, help="NATS credentials file for the leaf connection to the hub")
    serve.add_argument("--port", type=int, help="client port (default: a free one)")
    serve.add_argument("--tls-ca", type=Path, help="with --leaf-of: the hub's CA (PEM), for a hub with [tls]")
    serve.add_argument("--tls-cert", type=Path, help="with --leaf-of: this leaf's certificate (PEM), signed by it")
    serve.add_argument("--tls-key", type=Path, help="with --leaf-of: the certificate's key (PEM)")
    config = tree.add(
        "log config",
        "Write the nats-server configs of a topology (hub servers and store leaf nodes) and check them.",
        _config,
        description="Generate hub-<server>.conf for every hub server and leaf-<store>.conf for every store of "
        "topology.toml into --out, then check each with `nats-server -t`.",
    )
    watch = tree.add(
        "log watch",
        "On the hub: restart a store's sourcing as soon as its leaf is back (runs until stopped).",
        _watch,
        description="JetStream retries a stalled source with a backoff of 10 s per failure (up to 2 minutes), "
        "so after a long WAN cut the hub would wait that long before fetching a store's backlog. This "
        "restarts every source silent for --stale-s seconds whose leaf answers again (stream/source_watch.py). "
        "Stops on SIGTERM or Ctrl-C.",
    )
    watch.add_argument("--topology", type=Path, required=True, help="topology.toml")
    watch.add_argument("--url", help="hub URL (default: the topology's first hub server)")
    add_client_auth_arguments(watch)
    watch.add_argument("--interval-s", type=float, default=1.0, help="seconds between checks (default: 1)")
    watch.add_argument("--stale-s", type=float, default=5.0, help="silence that marks a source stalled (default: 5)")
    config.add_argument("--topology", type=Path, required=True, help="topology.toml")
    config.add_argument("--out", type=Path, required=True, help="directory to write the configs into")


def _add_target(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="NATS URL of a server footfall did not start (default: the embedded one)")
    add_data_dir_argument(parser)
    add_client_auth_arguments(parser)


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
    from nats.js import api as js_api

    from stream.errors import LogError
    from stream.provision import stream_configs

    streams: list[js_api.StreamConfig]
    try:
        streams = _topology_streams(args) if args.topology is not None else stream_configs(build_config(args))
    except (LogError, ValueError) as exc:
        print(f"footfall log init: {exc}", file=sys.stderr)
        return 2

    async def work(url: str) -> int:
        from stream.connect import connect
        from stream.provision import ensure_stream_configs

        nc = await connect(url)
        try:
            changes = await ensure_stream_configs(nc.jetstream(), streams)
        finally:
            await nc.close()
        for change in changes:
            detail = f": {'; '.join(change.changes)}" if change.changes else ""
            print(f"{change.stream:<11} {change.action}{detail}")
        return 0

    return _with_log(args, work)


def _topology_streams(args: argparse.Namespace) -> list:
    """The hub's streams from --topology; the hub's client URLs become --url unless one is given."""
    from stream.errors import ConfigError
    from stream.topology import hub_stream_configs, load_topology

    other = [f for f, v in (("--config", args.config), ("--replicas", args.replicas),
                            ("--duplicate-window-s", args.duplicate_window_s), ("--max-age-s", args.max_age_s),
                            ("--max-bytes", args.max_bytes)) if v]  # fmt: skip
    if other:
        raise ConfigError(f"--topology carries the log's settings (its [log] table); drop {', '.join(other)}")
    topology = load_topology(args.topology)
    if not args.url:
        args.url = ",".join(topology.client_urls())
    return hub_stream_configs(topology)


def _config(args: argparse.Namespace) -> int:
    from stream.errors import LogError
    from stream.topology import check_server_config, load_topology, write_server_configs

    try:
        topology = load_topology(args.topology)
        for path in write_server_configs(topology, args.out, source=str(args.topology)):
            check_server_config(path)
            print(f"{path} (checked by nats-server -t)")
    except LogError as exc:
        print(f"footfall log config: {exc}", file=sys.stderr)
        return 1
    return 0


def _watch(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    from ops.logging import get_logger
    from stream.connect import connect
    from stream.errors import LogError
    from stream.source_watch import SourceWatchdog
    from stream.topology import SOURCED_STREAMS, load_topology

    log = get_logger("footfall.log.watch")

    async def run(url: str) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        nc = await connect(url)
        dog = SourceWatchdog(nc, list(SOURCED_STREAMS), stale_after_s=args.stale_s)
        try:
            while not stop.is_set():
                for stream, api in await dog.check_once():
                    log.info("source restarted", stream=stream, api=api)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=args.interval_s)
        finally:
            await nc.close()

    try:
        topology = load_topology(args.topology)
        asyncio.run(run(args.url or topology.client_urls()[0]))
    except LogError as exc:
        print(f"footfall log watch: {exc}", file=sys.stderr)
        return 1
    return 0


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
    nats_dir = DataDir(args.data_dir).nats
    try:
        config_file = _leaf_config(args, nats_dir)
    except LogError as exc:
        print(f"footfall log serve: {exc}", file=sys.stderr)
        return 2
    server = EmbeddedNats(nats_dir, reuse_running=False, port=args.port, config_file=config_file)
    try:
        server.start()
        if config_file is not None:
            _provision_leaf(server.url, args.store or args.domain)
    except LogError as exc:
        server.stop()
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


def _leaf_config(args: argparse.Namespace, nats_dir: Path) -> Path | None:
    """Write <data-dir>/nats/leaf.conf for --leaf-of and return its path; None for a plain embedded server."""
    from stream.errors import ConfigError
    from stream.topology import leaf_server_config, render_server_config, to_leaf_url

    tls_files = {"ca_file": args.tls_ca, "cert_file": args.tls_cert, "key_file": args.tls_key}
    given = {"--domain": args.domain, "--store": args.store, "--credentials": args.credentials,
             "--tls-*": any(tls_files.values())}  # fmt: skip
    leaf_flags = [flag for flag, value in given.items() if value]
    if args.leaf_of is None:
        if leaf_flags:
            raise ConfigError(f"{', '.join(leaf_flags)} only apply with --leaf-of HUB_URL")
        return None
    if not args.domain:
        raise ConfigError("--leaf-of needs --domain (the store leaf's JetStream domain)")
    from schemas.ids import is_valid_id

    for flag, value in (("--domain", args.domain), ("--store", args.store)):
        if value is not None and not is_valid_id(value):
            raise ConfigError(f"{flag} must match [a-z0-9][a-z0-9_-]{{0,31}}, got {value!r}")
    if args.credentials is not None and not args.credentials.is_file():
        raise ConfigError(f"--credentials {args.credentials}: no such file")
    tls = None
    if any(tls_files.values()):
        missing = [f"--tls-{k.split('_')[0]}" for k, v in tls_files.items() if v is None]
        if missing:
            raise ConfigError(f"TLS to the hub needs --tls-ca, --tls-cert and --tls-key; missing {', '.join(missing)}")
        tls = {k: str(Path(v).resolve()) for k, v in tls_files.items()}
    urls = [to_leaf_url(u) for u in args.leaf_of.split(",") if u.strip()]
    config = leaf_server_config(args.domain, urls, credentials=args.credentials, tls=tls)
    nats_dir.mkdir(parents=True, exist_ok=True)
    path = nats_dir / "leaf.conf"
    path.write_text(render_server_config(config, f"written by `footfall log serve --leaf-of` for {args.domain}"))
    return path


def _provision_leaf(url: str, store_id: str) -> None:
    """Create or update the leaf's own streams (idempotent), before the edge publishes to them."""
    import asyncio

    from stream.connect import connect
    from stream.provision import LogConfig, ensure_stream_configs
    from stream.topology import leaf_stream_configs

    async def work() -> None:
        nc = await connect(url)
        try:
            await ensure_stream_configs(nc.jetstream(), leaf_stream_configs(LogConfig(), store_id))
        finally:
            await nc.close()

    asyncio.run(work())
