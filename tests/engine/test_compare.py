"""Prediction vs engine comparison and layer signatures."""

from __future__ import annotations

from trtadvisor.confirm.artifacts import load_engine
from trtadvisor.confirm.compare import compare, layer_signature
from trtadvisor.confirm.model import Engine, EngineLayer
from trtadvisor.plan.context import PredictedLayer

from conftest import artifact as art

OPS = {
    "node_conv2d": "Conv",
    "node_relu": "Relu",
    "node_max_pool2d": "MaxPool",
    "node_conv2d_1": "Conv",
    "node_relu_1": "Relu",
    "node_max_pool2d_1": "MaxPool",
    "node_linear": "Gemm",
    "node_relu_2": "Relu",
    "node_linear_1": "Gemm",
    "node_softmax": "Softmax",
    "node_argmax": "ArgMax",
}



def layer(name: str, *nodes: str, kind: str = "convolution", confidence: str = "inferred") -> PredictedLayer:
    return PredictedLayer(name, kind, nodes, tuple(OPS[n] for n in nodes), ("F1",) if len(nodes) > 1 else (),
                          confidence=confidence)


def trt10() -> Engine:
    return load_engine(
        layer_info=art("trt-cookbook/trt10.16.1/model-trained-exportLayerInfo.json"), onnx_nodes=list(OPS)
    )


def test_compare_with_trt10_engine() -> None:
    predicted = [
        layer("L0", "node_conv2d", "node_relu"),
        layer("L1", "node_max_pool2d"),
        layer("L2", "node_conv2d_1", "node_relu_1"),
        layer("L3", "node_max_pool2d_1"),
        layer("L4", "node_linear", "node_relu_2"),
        layer("L5", "node_linear_1"),
        layer("L6", "node_softmax", "node_argmax"),
    ]
    result = compare(predicted, trt10(), node_ops=OPS)
    assert [c["predicted"] for c in result.confirmed] == ["L0", "L2"]
    assert result.confirmed[0]["engine_layer"] == "node_conv2d + node_relu"
    assert result.confirmed[0]["fusions"] == ["F1"] and result.confirmed[0]["nodes"] == ["node_conv2d", "node_relu"]
    # The five kernels sharing _myl4_ are one Myelin region: L4, L5 and L6 each hold only part of it.
    assert result.agreement == 4 / 7
    assert result.missed == []
    (lead,) = result.unpredicted
    assert lead["engine_layer"].startswith("{Myelin region myl4: node_linear_myl4_0")
    assert lead["predicted_layers"] == ["L4", "L5", "L6"]
    assert lead["ops"] == ["Gemm", "Relu", "Gemm", "Softmax", "ArgMax"]
    json = result.to_json()
    assert {"agreement", "grouping_agreement", "confirmed", "missed", "unpredicted", "kind_mismatches",
            "calibration", "explained", "method"} == set(json)
    assert json["method"] == "names"


def test_myelin_kernels_count_as_one_region_of_its_kind() -> None:
    head = ["node_linear", "node_relu_2", "node_linear_1", "node_softmax", "node_argmax"]
    region = layer("R", *head, kind="myelin", confidence="observed")
    classic = layer("R", *head, kind="softmax", confidence="inferred")
    assert compare([region], trt10(), node_ops=OPS).agreement == 1.0
    result = compare([classic], trt10(), node_ops=OPS)
    # Same nodes, but the engine ran them in Myelin: grouping agrees, the layer does not.
    assert (result.agreement, result.grouping_agreement) == (0.0, 1.0)
    assert result.kind_mismatches[0]["engine_kind"] == "myelin"
    assert result.calibration["inferred"] == {"matched": 0, "total": 1}
    assert compare([region], trt10(), node_ops=OPS).calibration["observed"] == {"matched": 1, "total": 1}


def test_missed_fusion_names_engine_layers() -> None:
    predicted = [layer("P", "node_conv2d", "node_relu", "node_max_pool2d")]
    result = compare(predicted, trt10(), node_ops=OPS)
    assert result.agreement == 0.0
    assert result.missed[0]["engine_layers"] == ["node_conv2d + node_relu", "node_max_pool2d"]
    assert "Conv" in result.missed[0]["reason"] and "MaxPool" in result.missed[0]["reason"]


def test_eliminated_nodes_and_reformats_ignored() -> None:
    engine = Engine(
        layers=(
            EngineLayer(
                "Reformatting CopyNode for Input Tensor 0 to a + b", "Reformat", onnx_nodes=("a", "b")
            ),
            EngineLayer("a + b", "CaskConvolution", onnx_nodes=("a", "b")),
        )
    )
    result = compare(
        [PredictedLayer("X", "convolution", ("a", "b", "id"), ("Conv", "Relu", "Identity"), ())],
        engine,
        eliminated=["id"],
    )
    assert result.agreement == 1.0 and result.confirmed[0]["engine_layer"] == "a + b"


def test_layer_signature_equal_across_trt_versions() -> None:
    new = trt10()
    old = load_engine(
        layer_info=art("trt-cookbook/trt10.14.1/model-trained-exportLayerInfo.json"), onnx_nodes=list(OPS)
    )
    assert layer_signature(new.layers, OPS) == layer_signature(old.layers, OPS)
    assert layer_signature(new.layers, OPS)[0] == ("Conv", "Relu")
    predicted = [layer("L0", "node_conv2d", "node_relu")]
    assert layer_signature(predicted) == (("Conv", "Relu"),)
