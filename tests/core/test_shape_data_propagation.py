"""Shape inference skips ONNX's data propagation only where it cannot change a shape (ir/load.py _inferred).

Expected shapes are what the ops compute: Reshape to the target its shape tensor holds, whatever op made it."""

from __future__ import annotations

import marshal
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import trtadvisor.ir.load as loader
from trtadvisor.ir.inferred_types import cpp_inference
from trtadvisor.ir.load import inferred_types_payload


def _reshape_model(target_op: str) -> onnx.ModelProto:
    """x[1, 6] -> Reshape(x, target) -> Relu, the target [2, 3] made by ``target_op`` from constants
    (Concat of two initializers) or from x's own shape (Shape [1, 6] -> Mul by [2, 1] -> Sub [0, 3])."""
    nodes = []
    inits = []
    if target_op == "Concat":
        inits += [numpy_helper.from_array(np.array([2], np.int64), "a"),
                  numpy_helper.from_array(np.array([3], np.int64), "b")]
        nodes.append(helper.make_node("Concat", ["a", "b"], ["target"], axis=0))
    else:
        inits += [numpy_helper.from_array(np.array([2, 1], np.int64), "m"),
                  numpy_helper.from_array(np.array([0, 3], np.int64), "d")]
        nodes += [helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Mul", ["s", "m"], ["q"]),
                  helper.make_node("Sub", ["q", "d"], ["target"])]
    nodes += [helper.make_node("Reshape", ["x", "target"], ["r"]), helper.make_node("Relu", ["r"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("target_op", ["Concat", "Shape"])
def test_a_computed_reshape_target_gives_the_reshaped_shape(target_op: str, tmp_path: Path) -> None:
    """Without data propagation ONNX leaves the Reshape's output shape unknown: a model without Shape/Size
    whose constants feed a shape must still be inferred with it (the in-process and the child's paths)."""
    model = _reshape_model(target_op)
    if target_op == "Concat":  # the case the shortcut must catch: no Shape op, yet propagation matters
        unpropagated = onnx.shape_inference.infer_shapes(model, data_prop=False)
        assert {v.name for v in unpropagated.graph.value_info if v.type.tensor_type.HasField("shape")} >= {"target"}
        assert not any(v.name == "r" and v.type.tensor_type.shape.dim[0].HasField("dim_value")
                       for v in unpropagated.graph.value_info)
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    loaded = loader.load_model(path)
    assert loaded.graph.shape("r") == (2, 3)
    assert loaded.graph.shape("y") == (2, 3)
    types, _ = map(marshal.loads, inferred_types_payload(path, path.read_bytes()))  # the types, then the counts
    assert types["r"][1] == (2, 3)


def test_without_shape_ops_inference_skips_data_propagation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A model with every reshape target a plain initializer is inferred once, without propagation."""
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["x", "t"], ["r"]), helper.make_node("Relu", ["r"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.array([3, 2], np.int64), "t")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    calls: list[bool] = []
    real = cpp_inference().infer_shapes

    def spy(data: bytes, check_type: bool, strict: bool, data_prop: bool) -> bytes:
        calls.append(data_prop)
        return real(data, check_type, strict, data_prop)

    monkeypatch.setattr(cpp_inference(), "infer_shapes", spy)
    types, _ = map(marshal.loads, inferred_types_payload(tmp_path / "m.onnx", model.SerializeToString()))
    assert types["y"][1] == (3, 2)
    assert calls == [False]
