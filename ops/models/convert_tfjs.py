"""Convert a TensorFlow.js graph model (model.json + .bin shards) to ONNX; run only inside the tool venv.

Usage: python convert_tfjs.py MODEL_JSON OUT_ONNX. Needs tensorflow-cpu, tf2onnx and onnxruntime, which
are the tool environment's, never footfall's. Prints one JSON line: outputs, opset, max_abs_diff (ONNX
Runtime vs TensorFlow on seeded random inputs in 0..1).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

OPSET = 17
_DTYPES = {"float32": np.float32, "int32": np.int32, "float16": np.float16, "uint8": np.uint8, "bool": np.bool_}


def _weights(model_dir: Path, manifest: list[dict]) -> dict[str, np.ndarray]:
    """Every weight by name, dequantised (uint8: q x scale + min; float16 widened) to its declared dtype."""
    out: dict[str, np.ndarray] = {}
    for group in manifest:
        data = b"".join((model_dir / p).read_bytes() for p in group["paths"])
        offset = 0
        for w in group["weights"]:
            shape = w["shape"]
            count = int(np.prod(shape)) if shape else 1
            quant = w.get("quantization")
            stored = np.dtype(quant["dtype"] if quant else w["dtype"])
            raw = np.frombuffer(data, dtype=stored, count=count, offset=offset)
            offset += count * stored.itemsize
            if quant and quant["dtype"] in ("uint8", "uint16"):
                value = raw.astype(np.float32) * quant["scale"] + quant["min"]
            else:
                value = raw
            out[w["name"]] = value.astype(_DTYPES[w["dtype"]]).reshape(shape)
    return out


def main() -> int:
    import onnxruntime as ort
    import tensorflow as tf  # type: ignore[import-untyped]
    import tf2onnx  # type: ignore[import-not-found]
    from google.protobuf import json_format  # type: ignore[import-untyped]
    from tensorflow.core.framework import graph_pb2  # type: ignore[import-untyped]

    model_json, out_path = Path(sys.argv[1]), Path(sys.argv[2])
    spec = json.loads(model_json.read_text())
    graph = json_format.ParseDict(spec["modelTopology"], graph_pb2.GraphDef(), ignore_unknown_fields=True)
    weights = _weights(model_json.parent, spec["weightsManifest"])
    for node in graph.node:
        if node.op == "Const" and node.name in weights:
            # The node's dtype rules: TF.js stores int64 constants as int32 in the shards.
            dtype = tf.dtypes.as_dtype(node.attr["dtype"].type).as_numpy_dtype
            value = weights[node.name].astype(dtype)
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value, shape=value.shape))
    signature = spec.get("signature", {})
    inputs = [v["name"] for v in signature.get("inputs", {}).values()]
    outputs = [v["name"] for v in signature.get("outputs", {}).values()]
    model, _ = tf2onnx.convert.from_graph_def(graph, input_names=inputs, output_names=outputs, opset=OPSET)
    out_path.write_bytes(model.SerializeToString())

    shape = [int(d.get("size", 1)) if int(d.get("size", 1)) > 0 else 1 for d in
             next(iter(signature["inputs"].values()))["tensorShape"]["dim"]]  # fmt: skip
    sample = np.random.default_rng(0).random(shape, dtype=np.float32)
    with tf.Graph().as_default() as g:
        tf.import_graph_def(graph, name="")
        with tf.compat.v1.Session(graph=g) as sess:
            expected = sess.run(outputs, {inputs[0]: sample})
    session = ort.InferenceSession(str(out_path), providers=["CPUExecutionProvider"])
    got = session.run(outputs, {session.get_inputs()[0].name: sample})
    diff = max(float(np.abs(a - b).max()) for a, b in zip(expected, got, strict=True))
    print(json.dumps({"outputs": outputs, "opset": OPSET, "input_shape": shape, "max_abs_diff": diff}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
