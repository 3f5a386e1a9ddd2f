"""Tiny ONNX models with the YOLOv8/YOLO11 input/output layout, built at test time with the `onnx` package."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def constant_yolo_model(path: Path, raw_output: np.ndarray, input_size: int = 320) -> Path:
    """Write a model: input `images` (1, 3, S, S) float32 -> output0 = raw_output + 0 * sum(images).

    The output depends on the input (so the graph is a real computation) but equals
    `raw_output` (1, 4 + classes, anchors) for any finite image.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    const = numpy_helper.from_array(raw_output.astype(np.float32), name="raw")
    zero = numpy_helper.from_array(np.array(0.0, dtype=np.float32), name="zero")
    nodes = [
        helper.make_node("ReduceSum", ["images"], ["total"], keepdims=0),
        helper.make_node("Mul", ["total", "zero"], ["nothing"]),
        helper.make_node("Add", ["raw", "nothing"], ["output0"]),
    ]
    graph = helper.make_graph(
        nodes,
        "constant_yolo",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, input_size, input_size])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(raw_output.shape))],
        initializer=[const, zero],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
