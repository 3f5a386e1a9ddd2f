"""Where footfall keeps its files: one data directory holding the log's and the store's directories."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATA_DIR = ".footfall"
DATA_DIR_ENV = "FOOTFALL_DATA_DIR"


@dataclass(frozen=True)
class DataDir:
    """A footfall data directory: `nats/` for the embedded log, `chdb/` for the embedded store."""

    root: Path

    @property
    def nats(self) -> Path:
        return self.root / "nats"

    @property
    def chdb(self) -> Path:
        return self.root / "chdb"


def add_data_dir_argument(parser: argparse.ArgumentParser, default: str | None = None) -> None:
    """Add --data-dir (default: $FOOTFALL_DATA_DIR, else `default`, else .footfall)."""
    fallback = default or os.environ.get(DATA_DIR_ENV, DEFAULT_DATA_DIR)
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(fallback),
        help=f"data directory holding nats/ and chdb/ (default: {fallback}; env {DATA_DIR_ENV})",
    )
