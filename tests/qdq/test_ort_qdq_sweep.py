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


# -- residual Add with Q/DQ on both operands ------------------------------------------------------
# EQ = https://docs.nvidia.com/deeplearning/tensorrt/latest/inference-library/quantized-types-explicit-quantization.html
# ('An example of quantizing a quantizable-operator. An element-wise addition operator is fused with the input
# DQ operators and the output Q operator').
RESNET18_BLOCKS = 8  # 4 stages x 2 basic blocks, one residual Add each


def test_resnet18_residual_adds_run_int8() -> None:
    """onnxruntime quantizes both Add operands and its output: each residual Add is one INT8 layer (EQ)."""
    result = audit(QDQ / "resnet18_ort_int8_symmetric.onnx", trt="10.16", sm="90")
    adds = [layer for layer in result.prediction.layers if "Add" in layer.ops]
    assert sum(layer.ops.count("Add") for layer in adds) == RESNET18_BLOCKS
    for layer in adds:
        assert layer.precision == "int8", (layer.name, layer.precision)
        assert "DequantizeLinear" in layer.ops and "QuantizeLinear" in layer.ops, layer.ops


def _add_model(quantize_b: bool) -> onnx.ModelProto:
    inits = [numpy_helper.from_array(np.float32(0.02), "s"), numpy_helper.from_array(np.int8(0), "z")]
    nodes = [helper.make_node("QuantizeLinear", ["a", "s", "z"], ["aq"], name="aq"),
             helper.make_node("DequantizeLinear", ["aq", "s", "z"], ["ad"], name="ad")]
    b = "b"
    if quantize_b:
        nodes += [helper.make_node("QuantizeLinear", ["b", "s", "z"], ["bq"], name="bq"),
                  helper.make_node("DequantizeLinear", ["bq", "s", "z"], ["bd"], name="bd")]
        b = "bd"
    nodes += [helper.make_node("Add", ["ad", b], ["sum"], name="add"),
              helper.make_node("QuantizeLinear", ["sum", "s", "z"], ["sq"], name="sq"),
              helper.make_node("DequantizeLinear", ["sq", "s", "z"], ["y"], name="sd")]
    shape = [1, 32, 8, 8]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape) for n in "ab"],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


@pytest.mark.parametrize("quantize_b", [True, False])
def test_add_fuses_input_dqs_and_output_q(quantize_b: bool, tmp_path: Path) -> None:
    path = tmp_path / "add.onnx"
    onnx.save(_add_model(quantize_b), path)
    result = audit(path, trt="10.16", sm="90")
    layer = next(layer for layer in result.prediction.layers if "add" in layer.nodes)
    if quantize_b:  # EQ: DQ + DQ + Add + Q, one quantized layer
        assert set(layer.nodes) == {"ad", "bd", "add", "sq"}
        assert layer.precision == "int8"
    else:  # a float operand: the Add stays in float, its DQ and Q are layers of their own
        assert set(layer.nodes) == {"add"}


# -- attention in onnxruntime's QDQ format ---------------------------------------------------------
# quantize_static(QuantFormat.QDQ) on a BERT encoder puts a Q/DQ pair after every op it quantizes: the scores,
# the masked scores and the Softmax output, so Softmax(DQ(Q(Add(DQ(Q(MatMul(DQ(Q(q)), DQ(Q(k))))), DQ(Q(mask)))))).
HEAD, SEQ = 64, 64  # BERT hidden 128 / 2 heads, sequence 64


def _ort_attention_model() -> onnx.ModelProto:
    inits = [numpy_helper.from_array(np.float32(0.02), "s"), numpy_helper.from_array(np.int8(0), "z")]
    nodes: list[onnx.NodeProto] = []

    def qdq(x: str) -> str:
        nodes.append(helper.make_node("QuantizeLinear", [x, "s", "z"], [f"{x}_q"], name=f"{x}_q"))
        nodes.append(helper.make_node("DequantizeLinear", [f"{x}_q", "s", "z"], [f"{x}_d"], name=f"{x}_d"))
        return f"{x}_d"

    nodes.append(helper.make_node("MatMul", [qdq("q"), qdq("kt")], ["scores"], name="bmm1"))
    nodes.append(helper.make_node("Add", [qdq("scores"), qdq("mask")], ["masked"], name="mask_add"))
    nodes.append(helper.make_node("Softmax", [qdq("masked")], ["probs"], name="softmax", axis=-1))
    nodes.append(helper.make_node("MatMul", [qdq("probs"), qdq("v")], ["y"], name="bmm2"))
    value = [1, 2, SEQ, HEAD]
    inputs = [helper.make_tensor_value_info("q", TensorProto.FLOAT, value),
              helper.make_tensor_value_info("kt", TensorProto.FLOAT, [1, 2, HEAD, SEQ]),
              helper.make_tensor_value_info("mask", TensorProto.FLOAT, [1, 1, SEQ, SEQ]),
              helper.make_tensor_value_info("v", TensorProto.FLOAT, value)]
    graph = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, value)],
                              inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def test_attention_seen_through_qdq_pairs(tmp_path: Path) -> None:
    path = tmp_path / "attention.onnx"
    onnx.save(_ort_attention_model(), path)
    result = audit(path, trt="10.16", sm="90")
    # rules/qdq.toml [rule.TRT408]: a Q/DQ on the mask Add's operands is not part of the fused MHA pattern.
    mask = next((f for f in result.findings if f.rule == "TRT408"), None)
    assert mask is not None and "mask_add" in mask.nodes
    sites = result.quantization["attention"]
    assert [site["nodes"] for site in sites] == [["bmm1", "softmax"]]
    assert (sites[0]["head_size"], sites[0]["seq_q"], sites[0]["seq_kv"]) == (HEAD, SEQ, SEQ)
