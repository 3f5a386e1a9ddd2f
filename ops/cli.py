"""The `footfall` command line: one parser, commands registered by modules in ops/commands."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from ops.extras import MissingExtra, missing_extra
from ops.logging import configure_logging

Handler = Callable[[argparse.Namespace], int]

# Each module defines `register(tree: CommandTree) -> None`. Imports of heavy
# libraries (numba, onnxruntime, chdb) stay inside the handlers so that
# `footfall --help` answers at once.
COMMAND_MODULES: tuple[str, ...] = (
    "ops.commands.demo",
    "ops.commands.sql",
    "ops.commands.schemas",
    "ops.commands.tracker",
    "ops.commands.project",
    "ops.commands.ingest",
    "ops.commands.edge",
    "ops.commands.calibrate",
    "ops.commands.bench_edge",
    "ops.commands.eval_standing",
    "ops.commands.models",
    "ops.commands.log",
    "ops.commands.bench_log",
    "ops.commands.bench_topology",
    "ops.commands.bench_zones",
    "ops.commands.bench_simulate",
    "ops.commands.bench_alerts",
    "ops.commands.simulate",
    "ops.commands.heatmap",
    "ops.commands.eval_store",
    "ops.commands.eval_alerts",
    "ops.commands.alerts_backtest",
    "ops.commands.alerts_forward",
    "ops.commands.serve",
    "ops.commands.whatif",
    "ops.commands.compare",
    "ops.commands.report",
    "ops.commands.eval_uncertainty",
)


class CommandTree:
    """Builds nested sub-commands (`footfall bench tracker`) from space-separated paths."""

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self._root = parser.add_subparsers(dest="command", metavar="COMMAND")
        self._groups: dict[str, argparse._SubParsersAction[argparse.ArgumentParser]] = {}

    def group(self, name: str, help: str) -> None:
        """Declare a command group such as `bench` or `eval`; declaring it twice is harmless."""
        if name in self._groups:
            return
        parser = self._root.add_parser(name, help=help, description=help)
        parser.set_defaults(handler=_print_help(parser))
        self._groups[name] = parser.add_subparsers(dest=f"{name}_command", metavar="COMMAND")

    def add(self, path: str, help: str, handler: Handler, description: str | None = None) -> argparse.ArgumentParser:
        """Add the command at `path` ("sql" or "bench tracker") and return its parser for arguments."""
        words = path.split()
        if len(words) == 1:
            sub = self._root
        elif len(words) == 2:
            if words[0] not in self._groups:
                raise KeyError(f"command group {words[0]!r} is not declared; call tree.group() first")
            sub = self._groups[words[0]]
        else:
            raise ValueError(f"command path {path!r} must have one or two words")
        parser = sub.add_parser(
            words[-1],
            help=help,
            description=description or help,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        parser.set_defaults(handler=handler)
        return parser


def _print_help(parser: argparse.ArgumentParser) -> Handler:
    def handler(_: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    return handler


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="footfall",
        description=(
            "footfall: privacy-first retail analytics. Anonymous tracks from the edge go to an "
            "immutable NATS JetStream log; replayable projections fold them into ClickHouse."
        ),
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="log threshold (default: info)",
    )
    parser.add_argument(
        "--log-format",
        default="auto",
        choices=["auto", "console", "json"],
        help="console on a terminal, JSON otherwise (default: auto)",
    )
    tree = CommandTree(parser)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(tree)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(level=args.log_level, fmt=args.log_format)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    command = " ".join(w for w in (args.command, *_subcommands(args)) if w)
    try:
        # For a server footfall did not start (an embedded one is plain): --url, or a topology's hub.
        if getattr(args, "client_auth", False) and (getattr(args, "url", None) or getattr(args, "topology", None)):
            from stream.client_auth import ClientAuth, configure_client

            configure_client(ClientAuth(args.tls_ca, args.tls_cert, args.tls_key, args.creds))
        return handler(args)
    except KeyboardInterrupt:
        return 130
    except ModuleNotFoundError as exc:
        # An optional package (an extra) imported deep inside a command: one line naming the install.
        missing = missing_extra(exc)
        if missing is None:
            raise
        print(f"footfall {command}: {missing}", file=sys.stderr)
        return 2
    except MissingExtra as exc:
        print(f"footfall {command}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        # footfall's own errors (SchemaError, StoreError, StoreLocked, LogError, ...) already say what is
        # wrong and where; a traceback would bury that. Anything else is a bug and keeps its traceback.
        if type(exc).__module__.split(".")[0] not in _OUR_PACKAGES:
            raise
        print(f"footfall {command}: {exc}", file=sys.stderr)
        return 1


_OUR_PACKAGES = frozenset({"schemas", "ml_core", "stream", "projections", "ops"})


def _subcommands(args: argparse.Namespace) -> list[str]:
    return [str(v) for k, v in sorted(vars(args).items()) if k.endswith("_command") and v]


if __name__ == "__main__":
    sys.exit(main())
