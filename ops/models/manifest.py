"""A model's manifest: what the .onnx beside it is, where it came from, under which licences."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import msgspec

Name = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
Sha256 = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$")]


class ModelSource(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Where the weights were downloaded from: a URL, the artefact's version and sha256, the file inside it."""

    url: str
    version: str
    sha256: Sha256
    member: str = ""


class ModelManifest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """name: how the edge names the model. file: the .onnx beside the manifest. sha256: that file's.
    input_size: S of its (1, 3, S, S) input. decoder: the detector family that reads its outputs.
    licences: of the package and of the weights. max_abs_diff: the largest difference between ONNX
    Runtime's and the source framework's outputs on the check inputs at conversion (None: not converted)."""

    name: Name
    file: str
    sha256: Sha256
    input_size: Annotated[int, msgspec.Meta(ge=32, le=4096)]
    decoder: Literal["nanodet"]
    source: ModelSource
    licences: tuple[str, ...]
    converter: str = ""
    max_abs_diff: float | None = None


_decoder = msgspec.json.Decoder(ModelManifest)
_encoder = msgspec.json.Encoder()


def read_manifest(path: Path) -> ModelManifest:
    """Read one manifest; ValueError naming the file and the field on a bad one."""
    try:
        return _decoder.decode(path.read_bytes())
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ValueError(f"invalid model manifest {path}: {exc}") from exc


def write_manifest(directory: Path, manifest: ModelManifest) -> Path:
    """Write `<name>.json` in `directory` (atomically: a reader never sees half a manifest)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{manifest.name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_bytes(msgspec.json.format(_encoder.encode(manifest), indent=2) + b"\n")
    tmp.replace(path)
    return path


def list_models(directory: Path) -> list[ModelManifest]:
    """Every manifest in `directory`, by name (none when the directory does not exist)."""
    if not directory.is_dir():
        return []
    return sorted((read_manifest(p) for p in directory.glob("*.json")), key=lambda m: m.name)


def find_model(directory: Path, name: str) -> tuple[ModelManifest, Path]:
    """The manifest named `name` and its .onnx file; FileNotFoundError saying what is there instead."""
    path = directory / f"{name}.json"
    if not path.is_file():
        present = [m.name for m in list_models(directory)]
        raise FileNotFoundError(
            f"no model {name!r} in {directory} (present: {present or 'none'}; `footfall models fetch {name}`)"
        )
    manifest = read_manifest(path)
    onnx = directory / manifest.file
    if not onnx.is_file():
        raise FileNotFoundError(f"model {name!r}: manifest {path} names {onnx}, which is missing")
    return manifest, onnx
