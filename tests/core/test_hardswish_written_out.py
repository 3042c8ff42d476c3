"""HardSwish written out as arithmetic is recognised as a HardSwish, whatever the op order.

HardSwish(x) = x * relu6(x + 3) / 6 (Howard et al., "Searching for MobileNetV3", eq. 2; ONNX HardSwish:
x * max(0, min(1, x / 6 + 1/2))). timm's ``hard_swish`` (``x * F.relu6(x + 3.) / 6.``) and YOLOv5's export
``Hardswish`` (``x * F.hardtanh(x + 3, 0., 6.) / 6.``) export, with both torch exporters, as Add(x, 3),
Clip(0, 6), Mul(x, .), Div(., 6); Keras' ``hard_swish`` multiplies by 1/6 instead, and some code divides the
gate before the product. TensorRT fuses any of them after a convolution as one generic activation
(REF: Types of Fusions, "Convolution and Generic Activation"): the report names the pattern either way.
"""

from __future__ import annotations

from pathlib import Path

import onnx
import onnx.parser
import pytest

from trtadvisor.api import AuditResult, audit

_HEAD = '<ir_version: 8, opset_import: ["" : 17]>\n'
_SIGNATURE = ("g (float[1,8,16,16] x) => (float[1,8,16,16] y) "
              "<float three = {3.0}, float zero = {0.0}, float six = {6.0}, float sixth = {0.16666667}> {\n")

SPELLINGS = {
    "torch relu6/hardtanh, divide after the product": (
        "  a = Add(x, three)\n  r = Clip(a, zero, six)\n  m = Mul(x, r)\n  y = Div(m, six)\n",
        ("Add_a", "Clip_r", "Mul_m", "Div_y")),
    "multiply by 1/6 (Keras)": (
        "  a = Add(three, x)\n  r = Clip(a, zero, six)\n  m = Mul(r, x)\n  y = Mul(m, sixth)\n",
        ("Add_a", "Clip_r", "Mul_m", "Mul_y")),
    "gate divided before the product": (
        "  a = Add(x, three)\n  r = Clip(a, zero, six)\n  d = Div(r, six)\n  y = Mul(x, d)\n",
        ("Add_a", "Clip_r", "Div_d", "Mul_y")),
    "Clip bounds as attributes (opset 6-10 spelling)": (
        "  a = Add(x, three)\n  r = Clip<min=0.0, max=6.0>(a)\n  m = Mul(x, r)\n  y = Div(m, six)\n",
        ("Add_a", "Clip_r", "Mul_m", "Div_y")),
}

NOT_HARDSWISH = {
    "hard sigmoid alone: relu6(x + 3) / 6": "  a = Add(x, three)\n  r = Clip(a, zero, six)\n  y = Div(r, six)\n",
    "no shift: x * relu6(x) / 6": "  r = Clip(x, zero, six)\n  m = Mul(x, r)\n  y = Div(m, six)\n",
    "wrong scale: x * relu6(x + 3) / 3": "  a = Add(x, three)\n  r = Clip(a, zero, six)\n  m = Mul(x, r)\n"
                                          "  y = Div(m, three)\n",
}


def _audit(body: str, tmp_path: Path, opset: int = 17) -> AuditResult:
    text = _HEAD.replace("17", str(opset)) + _SIGNATURE + body + "}"
    path = tmp_path / "model.onnx"
    onnx.save(onnx.parser.parse_model(text), path)
    return audit(path, trt="10.16", sm="90", precision="fp16")


def _hardswishes(result: AuditResult) -> list[tuple[str, ...]]:
    return [tuple(p["nodes"]) for p in result.patterns or [] if p["pattern"] == "hardswish"]


@pytest.mark.parametrize("name", sorted(SPELLINGS))
def test_written_out_hardswish_is_recognised(name: str, tmp_path: Path) -> None:
    body, nodes = SPELLINGS[name]
    opset = 10 if "attributes" in name else 17
    assert _hardswishes(_audit(body, tmp_path, opset)) == [nodes]


@pytest.mark.parametrize("name", sorted(NOT_HARDSWISH))
def test_other_arithmetic_around_a_clip_is_not(name: str, tmp_path: Path) -> None:
    assert _hardswishes(_audit(NOT_HARDSWISH[name], tmp_path)) == []


def test_each_block_after_a_convolution_is_one_site_in_the_convolution_layer(tmp_path: Path) -> None:
    # Two MobileNetV3-style conv + hard_swish blocks: two sites, each run by its convolution's layer.
    text = _HEAD + ("g (float[1,8,16,16] x, float[8,8,3,3] w) => (float[1,8,16,16] y) "
                    "<float three = {3.0}, float zero = {0.0}, float six = {6.0}> {\n")
    for i, (src, dst) in enumerate((("x", "h0"), ("h0", "y"))):
        text += (f"  c{i} = Conv<pads=[1,1,1,1]>({src}, w)\n  a{i} = Add(c{i}, three)\n"
                 f"  r{i} = Clip(a{i}, zero, six)\n  m{i} = Mul(c{i}, r{i})\n  {dst} = Div(m{i}, six)\n")
    path = tmp_path / "blocks.onnx"
    onnx.save(onnx.parser.parse_model(text + "}"), path)
    result = audit(path, trt="10.16", sm="90", precision="fp16")
    sites = [p for p in result.patterns or [] if p["pattern"] == "hardswish"]
    assert len(sites) == 2
    conv_layers = {layer.name for layer in result.prediction.layers if layer.kind == "convolution"}
    assert {site["layer"] for site in sites} <= conv_layers
