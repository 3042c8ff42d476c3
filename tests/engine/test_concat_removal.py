"""Concat removal (rules/fusions.toml [fusion."concat-removal"]) against the YOLO engine that shows it."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
from onnx import TensorProto, helper

from trtadvisor.api import audit

from conftest import artifact

YOLO = "trex-pr3444-orin"


def _neck(path: Path) -> Path:
    """The two inputs of the YOLO neck's '/neck/Concat_1' with the engine's own node and tensor names:
    the upsampled '/neck/Resize_1' output first, then the backbone's Conv + ReLU output. Written with
    onnx.helper (the QAT export itself is not public; its names come from the artifact's log)."""
    relu_out = "/backbone/layer2/layer2.1/relu_1/Relu_output_0"
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["/backbone/layer2/layer2.1/conv2/Conv_output_0"],
                         name="/backbone/layer2/layer2.1/conv2/Conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["/backbone/layer2/layer2.1/conv2/Conv_output_0"], [relu_out],
                         name="/backbone/layer2/layer2.1/relu_1/Relu"),
        helper.make_node("Resize", ["deep", "", "scales"], ["/neck/Resize_1_output_0"], name="/neck/Resize_1",
                         mode="nearest"),
        helper.make_node("Concat", ["/neck/Resize_1_output_0", relu_out], ["cat"], name="/neck/Concat_1", axis=1),
        helper.make_node("Conv", ["cat", "w2"], ["y"], name="/neck/detect3/conv1/conv/Conv"),
    ]
    graph = helper.make_graph(
        nodes, "neck",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64, 32, 32]),
         helper.make_tensor_value_info("deep", TensorProto.FLOAT, [1, 64, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 32, 32, 32])],
        initializer=[helper.make_tensor("w", TensorProto.FLOAT, [64, 64, 3, 3], [0.0] * 64 * 64 * 9),
                     helper.make_tensor("w2", TensorProto.FLOAT, [32, 128, 1, 1], [0.0] * 32 * 128),
                     helper.make_tensor("scales", TensorProto.FLOAT, [4], [1.0, 1.0, 2.0, 2.0])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, path)
    return path


def test_resize_input_is_copied_and_the_concat_layer_removed(tmp_path: Path) -> None:
    real = json.loads(artifact(f"{YOLO}/yolo_qat.layer_info-namesonly.json").read_text())["Layers"]
    result = audit(_neck(tmp_path / "neck.onnx"), trt="8.5", sm="87", precision="int8")
    names = {layer.name: layer for layer in result.prediction.layers}
    copy = "/neck/Concat_1_/neck/Resize_1_output_0_clone_0 copy"
    assert copy in real  # the name TensorRT gave the copy
    assert copy in names and names[copy].kind == "reformat"
    assert not any(layer.name == "/neck/Concat_1" for layer in result.prediction.layers)  # no Concat layer
    found = [f for f in result.findings if f.rule == "TRT122"]
    assert len(found) == 1 and "/neck/Resize_1" in found[0].message and list(found[0].nodes) == ["/neck/Concat_1"]


def test_convolution_inputs_remove_the_concat(tmp_path: Path) -> None:
    """Both inputs made by Conv + ReLU layers: no layer for the Concat and nothing to report."""
    model = onnx.load(_neck(tmp_path / "neck.onnx"))
    resize = next(n for n in model.graph.node if n.op_type == "Resize")
    model.graph.node.remove(resize)
    conv = helper.make_node("Conv", ["deep", "w3"], ["/neck/Resize_1_output_0"], name="/neck/lateral/Conv",
                            strides=[1, 1], pads=[0, 0, 0, 0])
    model.graph.node.insert(0, conv)
    model.graph.input[1].type.tensor_type.shape.dim[2].dim_value = 32
    model.graph.input[1].type.tensor_type.shape.dim[3].dim_value = 32
    model.graph.initializer.append(helper.make_tensor("w3", TensorProto.FLOAT, [64, 64, 1, 1], [0.0] * 64 * 64))
    onnx.save(model, tmp_path / "convs.onnx")
    result = audit(tmp_path / "convs.onnx", trt="8.5", sm="87", precision="int8")
    assert "/neck/Concat_1" in result.prediction.eliminated
    assert not any("Concat" in op for layer in result.prediction.layers for op in layer.ops)
    assert not [f for f in result.findings if f.rule == "TRT122"]


def test_the_copy_costs_one_pass_of_the_copied_input(tmp_path: Path) -> None:
    """The Reformat copy reads and writes the Resize output (1x64x32x32 at FP16) once; the Conv + ReLU input
    is written in place and costs the copy nothing."""
    result = audit(_neck(tmp_path / "neck.onnx"), trt="8.6", gpu="A100", precision="fp16")
    assert result.cost is not None
    layers = result.prediction.layers
    index = next(i for i, layer in enumerate(layers) if layer.name.endswith(" copy"))
    cost = result.cost.layers[index]
    assert cost is not None and cost.flops == 0 and cost.bytes == 2 * (64 * 32 * 32) * 2
    finding = next(f for f in result.findings if f.rule == "TRT122")
    assert finding.cost_ms == float(f"{cost.ms:.4g}")
