"""TRT207: channels-last network inputs and outputs converted by a Transpose at the boundary.

The NHWC sample and its NCHW twin are the same Keras ResNet-50 converted by the real tf2onnx, without and
with ``inputs_as_nchw`` (samples/wild/make_tf_samples.py); the RTX 3090 engines of that architecture
(trt-artifacts/trex/examples/tensorflow/resnet/) run the input's Transpose as a Shuffle layer of its own.
"""

from __future__ import annotations

from pathlib import Path

import onnx
import onnx.parser
import pytest

from trtadvisor.api import audit

from conftest import REPO

WILD = REPO / "samples" / "wild"


def test_tf2onnx_nhwc_input_is_reported_with_the_shuffle_it_costs() -> None:
    path = WILD / "tf2onnx_resnet50.onnx"
    graph = onnx.load(path, load_external_data=False).graph
    (reader,) = [n for n in graph.node if "input_1" in n.input]  # tf2onnx's NHWC -> NCHW Transpose
    result = audit(path, trt="8.6", gpu="RTX 3090", precision="fp16")
    (finding,) = [f for f in result.findings if f.rule == "TRT207"]
    assert finding.nodes == (reader.name,)
    assert "input 'input_1' [32,224,224,3]" in finding.message and "--inputs-as-nchw input_1" in finding.hint
    # Priced as the layer the fix removes: the whole batch of 32 RGB 224x224 images read and written once, in FP16.
    layer = next(i for i, lay in enumerate(result.prediction.layers) if lay.nodes == (reader.name,))
    cost = result.cost.layers[layer]
    assert cost is not None and cost.bytes == 2 * (32 * 224 * 224 * 3) * 2
    assert finding.cost_ms == pytest.approx(cost.ms, rel=1e-3) and "the layer the fix removes" in finding.message


def test_the_fix_tf2onnx_inputs_as_nchw_removes_the_layer() -> None:
    nhwc = audit(WILD / "tf2onnx_resnet50.onnx", trt="8.6", gpu="RTX 3090", precision="fp16")
    nchw = audit(WILD / "tf2onnx_resnet50_nchw.onnx", trt="8.6", gpu="RTX 3090", precision="fp16")
    assert not [f for f in nchw.findings if f.rule == "TRT207"]
    assert "Transpose" not in {op for layer in nchw.prediction.layers for op in layer.ops}
    assert len(nchw.prediction.layers) == len(nhwc.prediction.layers) - 1


def _audit_text(text: str, tmp_path: Path) -> list[str]:
    path = tmp_path / "m.onnx"
    onnx.save(onnx.parser.parse_model(text), path)
    result = audit(path, trt="10.16", sm="90")
    # Each Transpose here is a Shuffle layer of its own, so only its permutation decides.
    assert sum(layer.ops == ("Transpose",) for layer in result.prediction.layers) == text.count("Transpose")
    return [f.message for f in result.findings if f.rule == "TRT207"]


def test_channels_last_output_and_5d_input_are_reported(tmp_path: Path) -> None:
    # A 3-D convolution of NDHWC video whose result goes back to NDHWC: both ends are layout Transposes.
    text = '''<ir_version: 8, opset_import: ["" : 17]>
g (float[1,4,8,8,16] x, float[16,16,3,3,3] const_w) => (float[1,4,8,8,16] y) {
  t = Transpose<perm=[0,4,1,2,3]>(x)
  c = Conv<pads=[1,1,1,1,1,1]>(t, const_w)
  y = Transpose<perm=[0,2,3,4,1]>(c)
}'''
    messages = _audit_text(text, tmp_path)
    assert len(messages) == 2
    assert any(m.startswith("input 'x' [1,4,8,8,16]") for m in messages)
    assert any(m.startswith("output 'y' [1,4,8,8,16]") for m in messages)


def test_a_transpose_that_is_not_a_layout_change_is_not_reported(tmp_path: Path) -> None:
    # Swapping the first two spatial-looking axes of a 4-D input ([N, A, B, C] -> [N, B, A, C]) moves no
    # channel axis between last and second: not NHWC -> NCHW, whatever the convolution after it reads.
    text = '''<ir_version: 8, opset_import: ["" : 17]>
g (float[1,16,8,8] x, float[8,8,3,3] const_w) => (float[1,8,16,8] y) {
  t = Transpose<perm=[0,2,1,3]>(x)
  y = Conv<pads=[1,1,1,1]>(t, const_w)
}'''
    assert _audit_text(text, tmp_path) == []
