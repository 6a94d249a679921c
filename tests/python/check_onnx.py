"""Independent check of an exported model with Python's onnx and onnxruntime.

usage: check_onnx.py MODEL.onnx INPUT.f32 ROWS FEATURES OUTPUT.f32

Runs onnx.checker.check_model(full_check=True), checks the opset and the metadata,
runs the model in Python onnxruntime on the raw float32 rows of INPUT.f32 and writes the
logits to OUTPUT.f32 (float32, row-major). Exits non-zero on any failure.
"""
import json
import sys

import numpy as np
import onnx
import onnxruntime as ort


def main():
    model_path, input_path, rows, features, output_path = sys.argv[1:6]
    rows, features = int(rows), int(features)
    model = onnx.load(model_path)
    onnx.checker.check_model(model, full_check=True)
    opsets = {o.domain: o.version for o in model.opset_import}
    assert opsets == {"": 17}, opsets
    assert all(n.domain == "" for n in model.graph.node)
    meta = {p.key: p.value for p in model.metadata_props}
    for key in ("densenas.dag", "densenas.space", "densenas.classes", "densenas.version"):
        assert key in meta, key
    assert "edges" in json.loads(meta["densenas.dag"])
    x = np.fromfile(input_path, dtype=np.float32).reshape(rows, features)
    session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    logits, probs = session.run(["logits", "probabilities"], {"input": x})
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    logits.astype(np.float32).tofile(output_path)


if __name__ == "__main__":
    main()
