"""The cost model's bulk paths (trtadvisor/plan/cost.py) give what pricing layer by layer gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtadvisor.api import audit
from trtadvisor.plan.cost import LayerCost, _Pricer


def _relu_flatten_softmax(path: Path) -> Path:
    """x [N, 4, 8, 8] -> Relu -> Reshape [N, 256] -> Softmax: the Reshape is a layer of its own."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 256])
    shape = numpy_helper.from_array(np.array([-1, 256], np.int64), "shape")
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"),
             helper.make_node("Reshape", ["r", "shape"], ["f"], name="flatten"),
             helper.make_node("Softmax", ["f"], ["y"], name="softmax", axis=-1)]
    graph = helper.make_graph(nodes, "g", [x], [y], [shape])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_a_symbolic_batch_leaves_costs_unknown_but_a_reshape_is_still_a_noop(tmp_path: Path) -> None:
    """With the batch symbolic, every layer whose output size is unknown has an unknown cost (found for all
    layers at once), except a reshape-only layer: TensorRT builds it as a NoOp layer that moves no data
    (rules/fusions.toml [platform] noop_shuffle_ops: the controlnet artifact's NoOp layers profile at 0 ms),
    whatever its size. With --shapes, the Relu costs one operation per element and one read and one write
    of its 2 x 4 x 8 x 8 FP32 tensor."""
    path = _relu_flatten_softmax(tmp_path / "m.onnx")
    symbolic = audit(path, gpu="a100")
    kinds = [layer.kind for layer in symbolic.prediction.layers]
    assert kinds == ["pointwise", "shuffle", "softmax"]
    assert symbolic.cost is not None
    assert symbolic.cost.layers == [None, LayerCost(0, 0, 0.0, "memory"), None]
    fixed = audit(path, gpu="a100", shapes={"x": (2, 4, 8, 8)})
    assert fixed.cost is not None
    relu, noop, softmax = fixed.cost.layers
    elements = 2 * 4 * 8 * 8
    assert relu is not None and (relu.flops, relu.bytes) == (elements, 2 * 4 * elements)
    assert noop == LayerCost(0, 0, 0.0, "memory")
    assert softmax is not None and softmax.bytes == 2 * 4 * elements


def test_without_removed_nodes_the_reader_count_alone_tells_a_tensor_is_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the build removes no node and no body reads a tensor, a tensor with more readers than reads inside
    its layer is read by another layer: the small-layer path does not look the readers over one by one
    (_read_outside, which is only needed to look through removed nodes)."""
    def refuse(*args: object) -> bool:
        raise AssertionError("readers looked over one by one")

    path = _relu_flatten_softmax(tmp_path / "m.onnx")
    monkeypatch.setattr(_Pricer, "_read_outside", refuse)
    fixed = audit(path, gpu="a100", shapes={"x": (2, 4, 8, 8)})
    assert fixed.prediction.eliminated == []
    assert fixed.cost is not None
    relu = fixed.cost.layers[0]
    elements = 2 * 4 * 8 * 8
    assert relu is not None and relu.bytes == 2 * 4 * elements  # its output is written for the reshape
