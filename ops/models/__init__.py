"""Detector weights on disk: one `<name>.onnx` beside `<name>.json` (its manifest) in a models directory.

Weights are data (DESIGN.md §7a): `footfall models fetch NAME` writes them at set-up, nothing fetches at
run time, and the edge names a model by its manifest name.
"""

from __future__ import annotations

from ops.models.manifest import ModelManifest, find_model, list_models, read_manifest, write_manifest

__all__ = ["ModelManifest", "find_model", "list_models", "read_manifest", "write_manifest"]
