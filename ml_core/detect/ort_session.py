"""An ONNX Runtime session for a detector: providers from config, CPU threads, one 4-D image input."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

_ORT_ERROR = 3  # ONNX Runtime log severity: 0 verbose .. 4 fatal
_ORT_FATAL = 4


@dataclass(frozen=True)
class DetectorSession:
    """The session, the providers it really uses, its input's name and square input size (pixels)."""

    session: Any
    providers: list[str]
    input_name: str
    input_size: int


def open_detector_session(
    path: Path, providers: tuple[str, ...] | list[str], intra_op_threads: int | None, input_size: int | None
) -> DetectorSession:
    """Load `path`; ValueError names the file and what is wrong (providers, a bad file, a dynamic size)."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    wanted = [p for p in providers if p in available]
    if not wanted:
        raise ValueError(f"none of the providers {list(providers)} is available; available: {available}")
    options = ort.SessionOptions()
    options.log_severity_level = _ORT_ERROR
    if intra_op_threads:
        options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    # The CUDA provider is listed by the onnxruntime-gpu wheel also where no CUDA libraries are installed;
    # the session then falls back to the next provider, logging the failed load as an error: quieten that,
    # and report the providers the session really uses.
    ort.set_default_logger_severity(_ORT_FATAL)
    try:
        session = ort.InferenceSession(str(path), sess_options=options, providers=wanted)
    except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
        raise ValueError(f"cannot load ONNX model {path}: {exc}") from exc
    finally:
        ort.set_default_logger_severity(_ORT_ERROR)
    inputs = session.get_inputs()
    if len(inputs) != 1 or len(inputs[0].shape) != 4:
        raise ValueError(f"{path}: expected one input of shape (1, 3, S, S), got {[i.shape for i in inputs]}")
    declared = inputs[0].shape[2]
    size = input_size if input_size is not None else declared
    if not isinstance(size, int):
        raise ValueError(f"{path}: input size is dynamic ({declared!r}); set input_size in the config")
    return DetectorSession(session, list(session.get_providers()), inputs[0].name, size)
