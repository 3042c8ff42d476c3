"""onnxruntime's QDQ format on graphs it quantizes (quantize_static, QuantFormat.QDQ).

onnxruntime writes one DequantizeLinear per quantized tensor, read by every consumer. In ResNet-18 the
input of each downsampling block (layer2.0, layer3.0, layer4.0) feeds two convolutions, conv1 and the
downsample conv, through that one DQ. TensorRT feeds both the INT8 tensor: in the A100 QAT engine
(../shared/data/trt-artifacts/trex/examples/pytorch/resnet/A100/qat/resnet-qat.onnx.engine.graph.json)
'layer2.0.conv1.weight + QuantizeLinear_70 + Conv_72' and 'layer2.0.downsample.0.weight + QuantizeLinear_93
+ Conv_95 + Add_97 + Relu_98' both read the Int8 tensor 'onnx::DequantizeLinear_198'.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtadvisor.api import audit

from conftest import REPO

QDQ = REPO / "samples" / "qdq"
RESNET18_CONVS = 20  # stem + 8 basic blocks x 2 + 3 downsample convs


def _conv_layers(result: object) -> list[tuple[str, str]]:
    return [(layer.name, layer.precision) for layer in result.prediction.layers  # type: ignore[attr-defined]
            if layer.kind == "convolution" and any(op == "Conv" for op in layer.ops)]


@pytest.mark.parametrize(("trt", "sm"), [("10.16", "90"), ("8.6", "86")])
def test_every_resnet18_conv_reads_int8(trt: str, sm: str) -> None:
    """onnxruntime quantizes every Conv input, so every predicted conv layer reads INT8."""
    result = audit(QDQ / "resnet18_ort_int8_symmetric.onnx", trt=trt, sm=sm, precision="int8")
    convs = _conv_layers(result)
    assert sum(layer.ops.count("Conv") for layer in result.prediction.layers) == RESNET18_CONVS
    assert all(precision.startswith("int8") for _, precision in convs), convs
    quantized = [item for item in result.quantization["layers"] if item["kind"] == "convolution"]
    assert quantized and all(item["precision"].startswith("int8->") for item in quantized), quantized


def _shared_dq_model() -> onnx.ModelProto:
    """x -> Q -> DQ -> (Conv a, Conv b), both with per-channel INT8 weights: onnxruntime's shared DQ."""
    inits, nodes = [], []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(value, name))
        return name

    s, z = const("s", np.float32(0.02)), const("z", np.int8(0))
    nodes.append(helper.make_node("QuantizeLinear", ["x", s, z], ["xq"], name="xq"))
    nodes.append(helper.make_node("DequantizeLinear", ["xq", s, z], ["xd"], name="xd"))
    for branch in ("a", "b"):
        w = const(f"w_{branch}", np.ones((32, 32, 1, 1), np.int8))
        ws = const(f"ws_{branch}", np.full(32, 0.01, np.float32))
        wz = const(f"wz_{branch}", np.zeros(32, np.int8))
        nodes.append(helper.make_node("DequantizeLinear", [w, ws, wz], [f"wd_{branch}"], name=f"wd_{branch}", axis=0))
        nodes.append(helper.make_node("Conv", ["xd", f"wd_{branch}"], [f"y_{branch}"], name=f"conv_{branch}"))
    nodes.append(helper.make_node("Add", ["y_a", "y_b"], ["y"], name="add"))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 32, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def test_shared_activation_dq_quantizes_both_readers(tmp_path: Path) -> None:
    path = tmp_path / "shared_dq.onnx"
    onnx.save(_shared_dq_model(), path)
    result = audit(path, trt="10.16", sm="90")
    by_conv = {node: layer for layer in result.prediction.layers for node in layer.nodes if node.startswith("conv_")}
    assert set(by_conv) == {"conv_a", "conv_b"}
    assert by_conv["conv_a"] is not by_conv["conv_b"]
    assert by_conv["conv_a"].precision.startswith("int8") and by_conv["conv_b"].precision.startswith("int8")
    items = {item["name"]: item["precision"] for item in result.quantization["layers"]}
    for conv in ("conv_a", "conv_b"):
        assert items[by_conv[conv].name].startswith("int8->"), items
