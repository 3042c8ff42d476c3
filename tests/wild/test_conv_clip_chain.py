"""A convolution's Clip with pointwise ops after it: Conv -> Clip -> Div (relu6 then a scale) and the hard-sigmoid
relu6(x + 3) / 6 as the TorchScript exporter writes it (Add, Clip, Div). REF documents 'Convolution and Clip
Activation' and the plan keeps it, with the Div a pointwise layer of its own; engines show the pieces of a longer
fusion (the Clip as a PWN node: MobileNet-v2 'Conv_12 + PWN(Clip_16)'; a PWN activation fused with the op after
it: TensorRT 8.4 'Fusing PWN(HardSigmoid_444) with Mul_445'; a convolution taking such a chain: 'Conv_3 +
PWN(PWN(HardSigmoid_4), Mul_5)') but no engine of this chain, so the one layer is listed as an inferred
alternative (rules/fusions.toml [platform] conv_act_chain_*). Graphs built with onnx.helper."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np
from onnx import TensorProto, helper, numpy_helper

from trtadvisor.api import audit
from trtadvisor.report.json_report import report_dict

from conftest import REPO, save_checked_model

F = TensorProto.FLOAT
SCHEMA = json.loads((REPO / "trtadvisor" / "schema" / "report-v1.json").read_text())
C, HW = 8, 16


def _model(tmp: Path, ops: list[str], divisor: np.ndarray) -> Path:
    """x -> Conv 3x3 -> ``ops`` in order (Add 3, Clip 0..6, Div by ``divisor``) -> y."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((C, C, 3, 3)).astype(np.float32), "w"),
             numpy_helper.from_array(np.array(0, np.float32), "lo"),
             numpy_helper.from_array(np.array(6, np.float32), "hi"),
             numpy_helper.from_array(np.array(3, np.float32), "three"), numpy_helper.from_array(divisor, "d")]
    nodes = [helper.make_node("Conv", ["x", "w"], ["t0"], name="Conv_1", pads=[1, 1, 1, 1])]
    args = {"Add": ["three"], "Clip": ["lo", "hi"], "Div": ["d"]}
    for i, op in enumerate(ops, start=1):
        nodes.append(helper.make_node(op, [f"t{i - 1}", *args[op]], [f"t{i}" if i < len(ops) else "y"],
                                      name=f"{op}_{i + 1}"))
    return save_checked_model(tmp / f"{'_'.join(ops)}_{divisor.size}.onnx", nodes,
                              [helper.make_tensor_value_info("x", F, [1, C, HW, HW])],
                              [helper.make_tensor_value_info("y", F, [1, C, HW, HW])], inits)


def _conv_layer(result):
    return next(layer for layer in result.prediction.layers if "Conv_1" in layer.nodes)


def test_conv_clip_div_lists_the_whole_chain_as_an_inferred_alternative(tmp_path: Path) -> None:
    for trt in ("8.6", "10.16"):
        result = audit(_model(tmp_path, ["Clip", "Div"], np.array(6, np.float32)), trt=trt, sm="90")
        conv = _conv_layer(result)
        assert conv.nodes == ("Conv_1", "Clip_2")  # REF: Convolution and Clip Activation, kept as the prediction
        assert [layer.nodes for layer in result.prediction.layers if layer.kind == "pointwise"] == [("Div_3",)]
        chain = [alt for alt in conv.alternatives if alt["nodes"] == ["Conv_1", "Clip_2", "Div_3"]]
        assert len(chain) == 1 and chain[0]["kind"] == "convolution" and chain[0]["confidence"] == "inferred"
        assert any("PWN(Clip_16)" in e for e in chain[0]["evidence"])
        jsonschema.validate(json.loads(json.dumps(report_dict(result))), SCHEMA)


def test_hard_sigmoid_after_a_convolution_lists_add_clip_div_in_one_layer(tmp_path: Path) -> None:
    """relu6(x + 3) / 6; a Div by a constant of one value per channel and position is a second input of the
    pointwise layer (REF 'Pointwise Fusion': single-value constants only), so nothing is listed for it."""
    result = audit(_model(tmp_path, ["Add", "Clip", "Div"], np.array(6, np.float32)), trt="8.6", sm="90")
    assert [alt["nodes"] for alt in _conv_layer(result).alternatives] == [["Conv_1", "Add_2", "Clip_3", "Div_4"]]
    many = np.full((1, C, HW, HW), 6, np.float32)
    result = audit(_model(tmp_path, ["Add", "Clip", "Div"], many), trt="8.6", sm="90")
    assert _conv_layer(result).alternatives == ()
