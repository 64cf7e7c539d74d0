#!/usr/bin/env python3
"""Writes the small ONNX models the core's Model-strategy tests load
(bots/core/tests/fixtures/models/). Hand-built with onnx.helper, so the expected outputs
are known in closed form:

- linear3.onnx: probabilities = [1 - s, s], s = sigmoid(x . [1, -2, 0.5] + 0.1), input [N, 3]
- linear4.onnx: the same with a fourth input (a shape mismatch for three features)
- weight3.onnx: y = x . [1, 0, 0] as a [N, 1] output (a target weight, clipped by nobody)
- int_input.onnx: an int64 input (refused: features are float)

Run: python tools/ml/fixtures.py bots/core/tests/fixtures/models
"""
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def linear(n, weights, bias, path, proba=True, input_type=TensorProto.FLOAT):
    w = numpy_helper.from_array(np.array(weights, dtype=np.float32).reshape(n, 1), "w")
    b = numpy_helper.from_array(np.array([bias], dtype=np.float32), "b")
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["xw"]),
        helper.make_node("Add", ["xw", "b"], ["z"]),
    ]
    if proba:
        one = numpy_helper.from_array(np.array([1.0], dtype=np.float32), "one")
        nodes += [
            helper.make_node("Sigmoid", ["z"], ["s"]),
            helper.make_node("Sub", ["one", "s"], ["ns"]),
            helper.make_node("Concat", ["ns", "s"], ["probabilities"], axis=1),
        ]
        inits = [w, b, one]
        out = helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 2])
    else:
        nodes[-1] = helper.make_node("Add", ["xw", "b"], ["weight"])
        inits = [w, b]
        out = helper.make_tensor_value_info("weight", TensorProto.FLOAT, ["N", 1])
    if input_type != TensorProto.FLOAT:
        nodes.insert(0, helper.make_node("Cast", ["xi"], ["x"], to=TensorProto.FLOAT))
        inp = helper.make_tensor_value_info("xi", input_type, ["N", n])
    else:
        inp = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", n])
    graph = helper.make_graph(nodes, "linear", [inp], [out], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "bots/core/tests/fixtures/models")
    out.mkdir(parents=True, exist_ok=True)
    linear(3, [1.0, -2.0, 0.5], 0.1, out / "linear3.onnx")
    linear(4, [1.0, -2.0, 0.5, 1.0], 0.1, out / "linear4.onnx")
    linear(3, [1.0, 0.0, 0.0], 0.0, out / "weight3.onnx", proba=False)
    linear(3, [1.0, -2.0, 0.5], 0.1, out / "int_input.onnx", input_type=TensorProto.INT64)


if __name__ == "__main__":
    main()
