#!/usr/bin/env python3
"""Classify image files with a network exported by densenas, using only numpy, Pillow
and onnxruntime.

    python examples/python/onnx_inference.py runs/mnist/best.onnx digit1.png digit2.png

The exported model takes raw feature values exactly as the training data held them, in
channel-major order (C x H x W), and normalises them itself. For image datasets (MNIST,
CIFAR, image folders) those are pixel values 0..255, so an image only needs resizing
to the model's input shape. For the embedded 8x8 digits (values 0..16) pass
`--scale 0.0627` (16/255). The input shape comes from the model's metadata
(`densenas.input_shape`) when present, else from `--shape C,H,W`, else it is guessed from
the input width (1 or 3 square channels).

Prints, per file, the predicted class, its probability and the top-3 classes; `--json`
prints the same as JSON.
"""
import argparse
import json
import math
import sys

import numpy as np
import onnxruntime as ort
from PIL import Image


def input_shape(features, metadata, override):
    if override:
        shape = [int(v) for v in override.split(",")]
    elif "densenas.input_shape" in metadata:
        shape = json.loads(metadata["densenas.input_shape"])
    else:
        shape = None
        for channels in (1, 3):
            side = math.isqrt(features // channels)
            if channels * side * side == features:
                shape = [channels, side, side]
                break
        if shape is None:
            sys.exit(f"cannot guess the image shape of {features} input features: pass --shape C,H,W")
    if len(shape) != 3 or int(np.prod(shape)) != features:
        sys.exit(f"shape {shape} does not give the model's {features} input features")
    return shape


def load_image(path, shape, scale):
    channels, height, width = shape
    image = Image.open(path).convert("L" if channels == 1 else "RGB").resize((width, height))
    pixels = np.asarray(image, dtype=np.float32)  # H x W or H x W x C
    if channels == 1:
        pixels = pixels[np.newaxis, :, :]
    else:
        pixels = pixels.transpose(2, 0, 1)  # channel-major, as the engine expects
    return pixels.reshape(-1) * scale


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("images", nargs="+")
    parser.add_argument("--shape", help="C,H,W of one sample (default: from the model)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply pixel values 0..255 by this")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    session = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    metadata = session.get_modelmeta().custom_metadata_map
    features = session.get_inputs()[0].shape[1]
    classes = json.loads(metadata.get("densenas.classes", "null")) or [
        str(i) for i in range(session.get_outputs()[0].shape[1])
    ]
    shape = input_shape(features, metadata, args.shape)
    batch = np.stack([load_image(p, shape, args.scale) for p in args.images]).astype(np.float32)
    probabilities = session.run(["probabilities"], {"input": batch})[0]

    results = []
    for path, p in zip(args.images, probabilities):
        top = np.argsort(-p)[:3]
        results.append(
            {
                "file": path,
                "class": classes[top[0]],
                "index": int(top[0]),
                "probability": float(p[top[0]]),
                "top3": [[classes[i], float(p[i])] for i in top],
            }
        )
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            others = ", ".join(f"{c} {q:.3f}" for c, q in r["top3"][1:])
            print(f"{r['file']}: {r['class']} ({r['probability']:.3f}; then {others})")


if __name__ == "__main__":
    main()
