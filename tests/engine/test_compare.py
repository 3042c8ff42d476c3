"""Prediction vs engine comparison and layer signatures."""

from __future__ import annotations

from trtadvisor.confirm.artifacts import load_engine
from trtadvisor.confirm.compare import compare, layer_signature
from trtadvisor.confirm.model import Engine, EngineLayer

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



def layer(name: str, *nodes: str) -> dict[str, object]:
    return {
        "name": name,
        "kind": "fused" if len(nodes) > 1 else "single",
        "nodes": list(nodes),
        "ops": [OPS[n] for n in nodes],
        "fusions": ["F1"] if len(nodes) > 1 else [],
    }


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
    assert [c["predicted"] for c in result.confirmed] == ["L0", "L2", "L4", "L6"]
    assert result.confirmed[0]["engine_layer"] == "node_conv2d + node_relu"
    # Every predicted layer has an engine layer with exactly its nodes (L5: __myl_MulSum_myl4_1).
    assert result.agreement == 1.0
    assert result.missed == []
    leads = {u["engine_layer"]: u for u in result.unpredicted}
    assert set(leads) == {"__myl_AddMaxrSubExpSum_myl4_2"}
    assert leads["__myl_AddMaxrSubExpSum_myl4_2"]["predicted_layers"] == ["L5", "L6"]
    assert leads["__myl_AddMaxrSubExpSum_myl4_2"]["ops"] == ["Gemm", "Softmax"]
    json = result.to_json()
    assert set(json) == {"agreement", "confirmed", "missed", "unpredicted", "method"}
    assert json["method"] == "names"


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
        [{"name": "X", "nodes": ["a", "b", "id"], "ops": ["Conv", "Relu", "Identity"]}],
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
