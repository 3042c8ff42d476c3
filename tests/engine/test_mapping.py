"""Engine layer -> ONNX node mapping."""

from __future__ import annotations

import pytest

from trtadvisor.confirm.artifacts import load_engine
from trtadvisor.confirm.mapping import classify_token, layer_role, map_layer, map_name, metadata_nodes
from trtadvisor.confirm.model import EngineLayer

from conftest import artifact as art


@pytest.mark.parametrize(
    ("name", "nodes"),
    [
        ("Conv_0 + Relu_1", ("Conv_0", "Relu_1")),
        (
            "Reformatting CopyNode for Input Tensor 0 to Conv_5 + Add_6 + Relu_7",
            ("Conv_5", "Add_6", "Relu_7"),
        ),
        ("Reformatting CopyNode for Output Tensor 0 to MaxPool2d", ("MaxPool2d",)),
        ("conv1.weight + QuantizeLinear_7 + Conv_9", ("QuantizeLinear_7", "Conv_9")),
        ("PWN(PWN(HardSigmoid_1), Mul_2)", ("HardSigmoid_1", "Mul_2")),
        ("fusedPointwiseNode(Sigmoid_3, Mul_4)", ("Sigmoid_3", "Mul_4")),
        ("PWN((Unnamed Layer* 11) [ElementWise] + node_relu_2)", ("node_relu_2",)),
        ("onnx::Mul_387 + (Unnamed Layer* 69) [Shuffle] + Mul_40", ("Mul_40",)),
        ("Conv_1 || Conv_2", ("Conv_1", "Conv_2")),
        ("node_conv2d + node_relu [profile 1]", ("node_conv2d", "node_relu")),
        ("node_linear [profile 1]_myl11_2", ("node_linear",)),
        ("(Unnamed Layer* 32) [Shuffle]", ()),
        ("__myl_MaxrSubExpSum_myl5_4", ()),
        ("reshape_after_Gemm_48", ()),
        ("[trainStation1]", ()),
        ("input_0 to nvm", ()),
        ("input.4 from nvm", ()),
        ("{ForeignNode[Conv_12]}", ("Conv_12",)),
        ("{ForeignNode[node_conv2d...node_relu]}", ("node_conv2d", "node_relu")),
    ],
)
def test_map_name_without_model(name: str, nodes: tuple[str, ...]) -> None:
    assert map_name(name) == nodes


TOPO = [
    "node_conv2d",
    "node_relu",
    "node_max_pool2d",
    "node_conv2d_1",
    "node_relu_1",
    "node_max_pool2d_1",
    "node_linear",
    "node_relu_2",
    "node_linear_1",
    "node_softmax",
    "node_argmax",
]


def test_foreign_node_range_resolved_in_topological_order() -> None:
    assert map_name("{ForeignNode[node_conv2d_1...node_linear]}", topo_order=TOPO) == (
        "node_conv2d_1",
        "node_relu_1",
        "node_max_pool2d_1",
        "node_linear",
    )


def test_known_nodes_drop_weights_and_resolve_myelin_clones() -> None:
    known = {"QuantizeLinear_7", "Conv_9", "node_linear_1"}
    assert map_name("conv1.weight + QuantizeLinear_7 + Conv_9", known_nodes=known) == (
        "QuantizeLinear_7",
        "Conv_9",
    )
    assert map_name("node_linear_1_2_myl5_3", known_nodes=known) == ("node_linear_1",)
    # A TF-style weight name with a " + " inside an internal shuffle name.
    tf = (
        "MatMul + b3/read:0 + (Unnamed Layer* 21) [Shuffle] + unsqueeze_node_after_b3/read:0 + "
        "(Unnamed Layer* 21) [Shuffle]_(Unnamed Layer* 21) [Shuffle]_output + add_2 + Relu_2"
    )
    assert map_name(tf) == ("MatMul", "add_2", "Relu_2")
    assert map_name(tf, known_nodes={"MatMul", "add_2", "Relu_2", "Reshape"}) == ("MatMul", "add_2", "Relu_2")


def test_metadata_separators() -> None:
    assert metadata_nodes("[ONNX Layer: a]\x1e[ONNX Layer: b]") == ("a", "b")
    assert metadata_nodes("[ONNX Layer: a]\x1f[ONNX Layer: b]\x1f[ONNX Layer: a]") == ("a", "b")
    assert metadata_nodes("[ONNX Layer: a][ONNX Layer: b]") == ("a", "b")
    assert metadata_nodes("") == ()


def test_metadata_wins_over_name() -> None:
    layer = EngineLayer(
        name="__myl_AddMaxrSubExpSum_myl4_2", metadata_nodes=("node_linear_1", "node_softmax")
    )
    assert map_layer(layer) == ("node_linear_1", "node_softmax")
    assert map_layer(layer, known_nodes={"node_softmax"}) == ("node_softmax",)


@pytest.mark.parametrize(
    ("token", "kind"),
    [
        ("Conv_0", "onnx"),
        ("conv1.weight", "weight"),
        ("onnx::Mul_387", "weight"),
        ("ONNXTRT_Broadcast_4", "internal"),
        ("__myl_Resh_myl5_1", "internal"),
        ("transpose_before_MatMul_3", "internal"),
        ("unsqueeze_node_after_b3/read:0", "internal"),
        ("(Unnamed Layer* 3) [Shuffle]", "unnamed"),
    ],
)
def test_classify_token(token: str, kind: str) -> None:
    assert classify_token(token) == kind


def test_trt10_engine_mapping_from_metadata() -> None:
    engine = load_engine(layer_info=art("trt-cookbook/trt10.16.1/model-trained-exportLayerInfo.json"))
    assert [layer.onnx_nodes for layer in engine.layers] == [
        ("node_conv2d", "node_relu"),
        ("node_max_pool2d",),
        ("node_conv2d_1", "node_relu_1"),
        ("node_max_pool2d_1",),
        ("node_linear", "node_relu_2"),
        ("node_linear_1",),
        ("node_linear_1", "node_softmax"),
        ("node_softmax", "node_argmax"),
        (),
    ]


def test_trt10_build_log_foreign_nodes_with_topology() -> None:
    engine = load_engine(log=art("trt-cookbook/trt10.16.1/result-02-build-verbose.log"), onnx_nodes=TOPO)
    assert engine.layers[0].onnx_nodes == ("node_conv2d", "node_relu")
    assert engine.layers[2].onnx_nodes == ("node_conv2d_1", "node_relu_1")  # the reformat feeding the region
    assert layer_role(engine.layers[2]) == "reformat"
    assert layer_role(engine.layers[3]) == "myelin"


def test_roles_in_real_engines() -> None:
    qat = load_engine(
        layer_info=art("trex/examples/pytorch/resnet/A100/qat/resnet-qat.onnx.engine.graph.json")
    )
    roles = [layer_role(layer) for layer in qat.layers]
    assert roles[0] == "qdq"  # QuantizeLinear_2, LayerType Reformat, Origin QDQ
    assert roles.count("qdq") == 10  # the 10 layers with Origin "QDQ" in the file
    dla = load_engine(log=art("levit-dla-xavier/1_only_DLA/Levit_fp16_DLA.trtexec-verbose.log"))
    assert [layer_role(layer) for layer in dla.layers[:4]] == ["dla_helper", "dla", "reformat", "dla_helper"]
    fp32 = load_engine(layer_info=art("trex/examples/pytorch/resnet/A100/fp32/resnet.onnx.engine.graph.json"))
    assert "noop" in {layer_role(layer) for layer in fp32.layers}
