"""Run by `bqat models build` with the Python of its throw-away converter environment
(tensorflow-cpu and tf2onnx, pinned; never bqat, so nothing here imports it).

Converts one TFLite model to ONNX, and runs the TFLite interpreter on the probe inputs it is
given: the reference that bqat then checks the ONNX model's outputs against.

Usage: python tflite_convert.py MODEL.tflite OUT.onnx PROBES.npz EXPECTED.npz OPSET DOC
"""

from __future__ import annotations

import sys


def main(tflite: str, onnx_path: str, probes: str, expected: str, opset: str, doc: str) -> None:
    import numpy as np
    import tensorflow as tf
    import tf2onnx

    model, _ = tf2onnx.convert.from_tflite(tflite, opset=int(opset))
    model.doc_string = doc
    with open(onnx_path, "wb") as out:
        out.write(model.SerializeToString())

    interpreter = tf.lite.Interpreter(model_path=tflite)
    (given,) = interpreter.get_input_details()
    outputs: dict[str, list[np.ndarray]] = {}
    for probe in np.load(probes)["input"]:  # one at a time: the TFLite models take batch 1
        interpreter.resize_tensor_input(given["index"], (1, *probe.shape))
        interpreter.allocate_tensors()
        interpreter.set_tensor(given["index"], probe[None].astype(given["dtype"]))
        interpreter.invoke()
        for detail in interpreter.get_output_details():
            outputs.setdefault(detail["name"], []).append(interpreter.get_tensor(detail["index"]))
    np.savez(expected, **{name: np.concatenate(found) for name, found in outputs.items()})


if __name__ == "__main__":
    main(*sys.argv[1:])
