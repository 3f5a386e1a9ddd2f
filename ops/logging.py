"""The one structlog setup: human-readable on a terminal, JSON lines otherwise."""

from __future__ import annotations

import logging
import sys

import structlog

# Libraries that log chattily at INFO/DEBUG and drown the operator's view.
_NOISY = ("numba", "asyncio", "nats", "urllib3", "clickhouse_connect")


def configure_logging(level: str = "info", fmt: str = "auto") -> None:
    """Configure structlog and the stdlib root logger once for the whole process.

    fmt: "console" (coloured key=value), "json" (one object a line) or "auto"
    (console when stderr is a terminal).
    """
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"log level must be one of debug/info/warning/error, got {level!r}")
    use_console = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
    renderer: structlog.types.Processor = (
        structlog.dev.ConsoleRenderer() if use_console else structlog.processors.JSONRenderer()
    )
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        # sys.stderr is looked up per logger, not bound here: a redirected or replaced stderr
        # (pytest's capture, a daemon's log file) must not leave loggers writing to a closed file.
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=numeric, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s", force=True)
    # A library's warnings.warn (stream.inbox falling back to nats-py's stock path) reaches the same log.
    logging.captureWarnings(True)
    for name in _NOISY:
        logging.getLogger(name).setLevel(max(numeric, logging.WARNING))


def _stderr_logger(*args: object) -> structlog.PrintLogger:
    return structlog.PrintLogger(file=sys.stderr)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """Return a structlog logger bound to `name` (for use in ops/ only)."""
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
