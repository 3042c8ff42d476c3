"""The cost model's bulk paths (trtadvisor/plan/cost.py) give what pricing layer by layer gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import trtadvisor.plan.cost as cost_model
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


def _pools_and_pointwise(path: Path, removed: bool) -> Path:
    """x [1, 8, 16, 16] through five MaxPools (3x3, 3x3, 5x5, 3x3, 3x3, each padded to keep the size), a Relu
    after each of the first four, one more Relu of the second pool's output that nothing reads, and four
    x * sigmoid(x) after the last pool. With ``removed``, the second Relu reaches the next pool through an
    Identity, and the second sigmoid's output also feeds a Shape whose value reshapes the network's output
    (the build removes both: the Identity passes the data on, the Shape reads only a shape)."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 16, 16])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 16, 16])
    nodes, tensor = [], "x"
    for i, k in enumerate((3, 3, 5, 3, 3)):
        nodes.append(helper.make_node("MaxPool", [tensor], [f"p{i}"], name=f"pool{i}", kernel_shape=[k, k],
                                      pads=[k // 2] * 4))
        tensor = f"p{i}" if i == 4 else f"r{i}"
        if i < 4:
            nodes.append(helper.make_node("Relu", [f"p{i}"], [tensor], name=f"relu{i}"))
        if i == 1 and removed:
            nodes.append(helper.make_node("Identity", [tensor], ["same"], name="identity"))
            tensor = "same"
    nodes.append(helper.make_node("Relu", ["p1"], ["unread"], name="unread_relu"))
    for i in range(4):
        last = i == 3 and not removed
        nodes += [helper.make_node("Sigmoid", [tensor], [f"s{i}"], name=f"sigmoid{i}"),
                  helper.make_node("Mul", [tensor, f"s{i}"], ["y" if last else f"m{i}"], name=f"mul{i}")]
        tensor = f"m{i}"
    if removed:
        nodes += [helper.make_node("Shape", ["s1"], ["size"], name="shape"),
                  helper.make_node("Reshape", [tensor, "size"], ["y"], name="reshape")]
    graph = helper.make_graph(nodes, "g", [x], [y])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


@pytest.mark.parametrize("removed", [False, True])
def test_layers_alike_are_priced_once_each_as_it_would_be_alone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, removed: bool) -> None:
    """Layers of one kind, ops and fusions are priced once per signature (_Pricer.known_costs): each gets what
    pricing it alone gives. What tells them apart must be in the signature: a pool's kernel (a 3x3 MaxPool
    does 9 operations per output element, a 5x5 one 25, over outputs of the same shape: rules/gpu_perf.toml
    [work] pool_ops) and whether a layer's output is read outside it (a layer writes only the tensors read
    outside it: the Relu nothing reads costs one read of its 8 x 16 x 16 FP32 input, the others a read and a
    write; a fused x * sigmoid(x) reads x and writes the product), also where nodes the build removes read
    a layer's output: an Identity (the data goes on to a pool) or a Shape (only the shape is read)."""
    path = _pools_and_pointwise(tmp_path / "m.onnx", removed)
    calls: list[str] = []
    price = _Pricer.layer_cost

    def counted(self: _Pricer, layer: Any, *args: Any) -> LayerCost | None:
        calls.append(layer.name)
        return price(self, layer, *args)

    monkeypatch.setattr(_Pricer, "layer_cost", counted)
    shared = audit(path, gpu="a100")
    assert set(shared.prediction.eliminated) == ({"identity", "shape"} if removed else set())
    layers = {layer.nodes: cost for layer, cost in zip(shared.prediction.layers, shared.cost.layers, strict=True)}
    elements = 8 * 16 * 16
    assert [layers[(f"pool{i}",)].flops for i in range(5)] == [9 * elements, 9 * elements, 25 * elements,
                                                               9 * elements, 9 * elements]
    assert [layers[(f"relu{i}",)].bytes for i in range(4)] == [2 * 4 * elements] * 4
    assert layers[("unread_relu",)].bytes == 4 * elements
    assert [layers[(f"sigmoid{i}", f"mul{i}")].bytes for i in range(4)] == [2 * 4 * elements] * 4
    # Two pool signatures, two Relu ones, one or two for x * sigmoid(x) (the last writes a network output).
    assert len(calls) <= 6 + removed
    monkeypatch.setattr(cost_model, "_SHARED_FROM", 10**9)  # every layer priced alone
    calls.clear()
    alone = audit(path, gpu="a100")
    assert len(calls) == len(alone.prediction.layers)
    assert shared.cost.layers == alone.cost.layers


def _relus_and_reshapes(path: Path) -> Path:
    """x [N, 8, 4, 4] through four Relus, each followed by a Flatten to [N, 128] and a Reshape back."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8, 4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 8, 4, 4])
    back = numpy_helper.from_array(np.array([-1, 8, 4, 4], np.int64), "back")
    nodes, tensor = [], "x"
    for i in range(4):
        last = "y" if i == 3 else f"t{i}"
        nodes += [helper.make_node("Relu", [tensor], [f"r{i}"], name=f"relu{i}"),
                  helper.make_node("Flatten", [f"r{i}"], [f"f{i}"], name=f"flatten{i}"),
                  helper.make_node("Reshape", [f"f{i}", "back"], [last], name=f"reshape{i}")]
        tensor = last
    graph = helper.make_graph(nodes, "g", [x], [y], [back])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_alike_layers_of_a_symbolic_batch_are_unknown_but_their_reshapes_are_noops(tmp_path: Path) -> None:
    """Layers alike are found unknown as a group (_Pricer._price_known) where their outputs' size is unknown:
    the four Relus of a symbolic batch have unknown costs, and the four reshape-only shuffles are NoOp layers
    whatever their size (rules/fusions.toml [platform] noop_shuffle_ops)."""
    result = audit(_relus_and_reshapes(tmp_path / "m.onnx"), gpu="a100")
    assert result.cost is not None
    costs: dict[tuple[str, ...], list[object]] = {layer.ops: [] for layer in result.prediction.layers}
    for layer, cost in zip(result.prediction.layers, result.cost.layers, strict=True):
        costs[layer.ops].append(cost)
    assert costs == {("Relu",): [None] * 4, ("Flatten", "Reshape"): [LayerCost(0, 0, 0.0, "memory")] * 4}
