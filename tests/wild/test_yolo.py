"""Ultralytics YOLO detectors exported by Ultralytics' own ONNX exporter (samples/wild/make_wild_samples.py
builders yolov8n_ultralytics and yolo11n_ultralytics: YOLO("yolov8n.yaml") / YOLO("yolo11n.yaml"), random weights,
export(format="onnx", imgsz=320), TorchScript exporter, opset 18, onnxslim).

The expected counts come from the Ultralytics modules (ultralytics.nn.modules), never from our own output.
"""

from __future__ import annotations

import json

import onnx
import pytest

from trtadvisor.api import audit

from conftest import REPO, artifact

WILD = REPO / "samples" / "wild"
YOLOV8N = WILD / "yolov8n_ultralytics.onnx"
YOLO11N = WILD / "yolo11n_ultralytics.onnx"

IMGSZ = 320
STRIDES = (8, 16, 32)                      # Detect.stride: 3 detection scales
ANCHORS = sum((IMGSZ // s) ** 2 for s in STRIDES)  # 40x40 + 20x20 + 10x10 = 2100
REG_MAX = 16                               # DFL bins per box side
NC = 80
# YOLOv8n: 57 Conv modules (Conv2d + BatchNorm2d folded by the exporter + SiLU), 6 of them the second conv of a
# Bottleneck with a shortcut (C2f n = 1, 2, 2, 1 in the backbone; the head's C2f have shortcut=False), then per
# scale 2 plain output Conv2d (box, class), and the DFL's fixed 1x1 Conv2d.
V8N_CONV_MODULES = 57
V8N_RESIDUAL = 1 + 2 + 2 + 1
V8N_CONV2D = V8N_CONV_MODULES + 2 * len(STRIDES) + 1
V8N_SPPF_POOLS = 3                         # SPPF applies one MaxPool2d(5) three times
V8N_UPSAMPLES = 2                          # nn.Upsample(scale_factor=2, mode="nearest") in the FPN
# YOLO11n's C2PSA: c = 256 * 0.5 = 128 channels, num_heads = c // 64 = 2, key_dim = head_dim * attn_ratio
# = 64 * 0.5 = 32 (q and k), head_dim 64 (v), over the 10x10 map of stride 32.
Y11N_HEADS, Y11N_KEY_DIM, Y11N_TOKENS = 2, 32, (IMGSZ // 32) ** 2
Y11N_HEAD_DIM = 64


@pytest.fixture(scope="module", params=["8.6", "10.8", "11.4"])
def yolov8n(request: pytest.FixtureRequest):
    return audit(YOLOV8N, trt=request.param, sm="90", precision="fp16")


def test_yolov8n_export_has_the_architecture_counts() -> None:
    """The sample is what the modules say: every Conv module's SiLU written as Sigmoid and Mul of the conv."""
    graph = onnx.load(YOLOV8N, load_external_data=False).graph
    ops = [n.op_type for n in graph.node]
    assert ops.count("Conv") == V8N_CONV2D
    assert ops.count("Sigmoid") == V8N_CONV_MODULES + 1  # + the class scores' sigmoid
    assert ops.count("MaxPool") == V8N_SPPF_POOLS and ops.count("Resize") == V8N_UPSAMPLES
    dims = [d.dim_value for d in graph.output[0].type.tensor_type.shape.dim]
    assert dims == [1, 4 + NC, ANCHORS]


def test_every_conv_silu_fuses_into_its_convolution(yolov8n) -> None:
    """Conv + SiLU (Sigmoid, Mul) is one convolution layer, as engines of these models show
    ('/model.1/conv/Conv + PWN(PWN(/model.1/act/Sigmoid), /model.1/act/Mul)'); the bottleneck convs whose SiLU
    is then added to the shortcut keep a pointwise layer of the SiLU and the Add (the documented prediction)."""
    layers = yolov8n.prediction.layers
    conv_act = [layer for layer in layers if layer.kind == "convolution" and layer.ops == ("Conv", "Sigmoid", "Mul")]
    residual = [layer for layer in layers if layer.ops == ("Sigmoid", "Mul", "Add")]
    assert len(conv_act) == V8N_CONV_MODULES - V8N_RESIDUAL
    assert len(residual) == V8N_RESIDUAL
    assert all("conv+act" in layer.fusions for layer in conv_act)
    assert sum(layer.kind == "convolution" for layer in layers) == V8N_CONV2D
    assert all(layer.ops.count("Sigmoid") <= 1 for layer in layers)  # no SiLU taken by the wrong layer


def test_sppf_pools_and_nearest_resizes_are_layers_of_their_own(yolov8n) -> None:
    """SPPF's 3 MaxPools are 3 pooling layers; each FPN Resize feeds a Concat that TensorRT removes, copying the
    Resize's output into it (a Reformat layer '<concat>_<resize output>_clone_0 copy', as the TensorRT 8.5 YOLO
    engine in ../shared/data/trt-artifacts/trex-pr3444-orin/ names it)."""
    layers = yolov8n.prediction.layers
    assert sum(layer.kind == "pooling" and layer.ops == ("MaxPool",) for layer in layers) == V8N_SPPF_POOLS
    assert sum(layer.kind == "resize" for layer in layers) == V8N_UPSAMPLES
    copies = [layer for layer in layers if layer.kind == "reformat" and "Resize_output_0_clone_0 copy" in layer.name]
    assert len(copies) == V8N_UPSAMPLES


def test_dfl_softmax_over_the_bins_is_no_attention(yolov8n) -> None:
    """The DFL's Softmax runs over the 16 bins and feeds a 1x1 Conv, not a product with values: no attention
    site, and the Softmax is a layer of its own."""
    assert yolov8n.attention is None
    graph = onnx.load(YOLOV8N, load_external_data=False).graph
    softmax = [n for n in graph.node if n.op_type == "Softmax"]
    assert len(softmax) == 1 and "dfl" in softmax[0].name
    assert [layer.kind for layer in yolov8n.prediction.layers if "Softmax" in layer.ops] == ["softmax"]


@pytest.mark.parametrize("trt", ["8.6", "10.8"])
def test_yolo11_c2psa_attention_is_a_site_with_an_unknown_verdict(trt: str) -> None:
    """YOLO11's Attention computes v @ attn.transpose(-2, -1) on channel-major tensors: the probabilities are
    BMM2's second operand, transposed, which sums over the keys as P·V does. It is one attention site (2 heads
    of 32 over 100 tokens, scaled on q); the documented MHA pattern is P·V, and no engine of the transposed form
    is known, so the verdict is unknown, not fused and not 'no attention'. Its values are head_dim wide against
    key_dim for q and k, another form the documented pattern (one H for Q, K and V) does not have."""
    result = audit(YOLO11N, trt=trt, sm="90", precision="fp16")
    assert result.attention is not None and len(result.attention) == 1
    judged = result.attention[0]
    site = judged.site
    assert (site.num_heads, site.num_kv_heads, site.head_size, site.seq_q, site.seq_kv) == (
        Y11N_HEADS, Y11N_HEADS, Y11N_KEY_DIM, Y11N_TOKENS, Y11N_TOKENS)
    assert site.mask == "none" and site.probabilities_second
    assert [n.rsplit("/", 1)[-1] for n in site.nodes if "MatMul" in n] == ["MatMul", "MatMul_1"]
    assert site.value_head_size == Y11N_HEAD_DIM
    assert judged.verdict.fused is None and judged.verdict.conditions == ("probabilities_second", "value_head_differs")
    assert any(f.rule == "TRT302" and site.anchor in f.nodes for f in result.findings)


def test_residual_bottleneck_lists_the_conv_silu_add_layer_8x_and_10x_engines_built(yolov8n) -> None:
    """Each residual bottleneck's second conv is read only by its SiLU, whose output the shortcut Add also reads:
    documented as a convolution and PWN(Sigmoid, Mul, Add). A TensorRT 8.x engine of YOLOv8 fused 5 of its 6 such
    layers into the convolution ('/model.2/m.0/cv2/conv/Conv + PWN(PWN(PWN(.../Sigmoid), .../Mul), /model.2/m.0/Add)'),
    so on every target from 8.0 that fused layer is the alternative of each of the 6."""
    layers = yolov8n.prediction.layers
    residual = [layer for layer in layers if layer.ops == ("Sigmoid", "Mul", "Add")]
    listed = {layer.nodes[0]: alt for layer in layers if layer.kind == "convolution"
              for alt in layer.alternatives if alt["kind"] == "convolution" and alt["nodes"][-1].endswith("/Add")}
    assert len(listed) == V8N_RESIDUAL
    for pwn in residual:
        conv = pwn.nodes[0].replace("/act/Sigmoid", "/conv/Conv")
        assert listed[conv]["nodes"] == [conv, *pwn.nodes]
        assert any("/model.2/m.0/Add)" in e for e in listed[conv]["evidence"])


# YOLOv8n's Concats: one per C2f (4 in the backbone, 4 in the head), SPPF's, the 2 FPN (Upsample + backbone) and 2
# PAN (strided Conv + head C2f) concatenations; the Detect head's own concatenations come after.
V8N_C2F = 8
V8N_NECK_CONCATS = 4
SPPF_C = 256 // 2          # SPPF(256, 256): cv1 halves the channels
SPPF_HW = IMGSZ // 32      # at stride 32


def test_c2f_sppf_and_neck_concats_are_removed_with_copies_where_engines_made_them(yolov8n) -> None:
    """A TensorRT 8.x YOLOv8 engine has no Concat layer in its C2f, SPPF or neck: the layers making the inputs write
    into the output, and TensorRT copies the Split halves ('.../cv1/act/Mul_output_0 copy'), a Resize's output, and
    a tensor another layer reads whole (SPPF: cv1's output and the first two pools', each read by the next pool; the
    last pool writes in place)."""
    graph = onnx.load(YOLOV8N, load_external_data=False).graph
    detect = {n.name for n in graph.node if n.op_type == "Concat" and n.name.startswith("/model.22/")}
    removed = {n.name for n in graph.node if n.op_type == "Concat"} - detect
    assert len(removed) == V8N_C2F + 1 + V8N_NECK_CONCATS
    layers = yolov8n.prediction.layers
    assert not [layer for layer in layers if layer.kind != "reformat" and removed & set(layer.nodes)]
    sppf = next(f for f in yolov8n.findings if f.rule == "TRT122" and f.nodes == ("/model.9/Concat",))
    named = {"/model.9/cv1/act/Mul_output_0", "/model.9/m/MaxPool_output_0", "/model.9/m_1/MaxPool_output_0"}
    assert all(f"'{t}'" in sppf.message for t in named) and "m_2/MaxPool_output_0'" not in sppf.message
    index = next(i for i, layer in enumerate(layers) if layer.nodes == ("/model.9/Concat",))
    cost = yolov8n.cost.layers[index]
    element = 4 if yolov8n.target.strong else 2  # strongly typed (11.x): the FP32 model runs in FP32
    assert cost is not None and cost.bytes == 2 * len(named) * SPPF_C * SPPF_HW * SPPF_HW * element  # read + write


def test_head_convs_reading_one_input_list_the_horizontal_merge_8x_engines_built(yolov8n) -> None:
    """At each of the 3 scales the Detect head's box and class branches open with a 3x3 Conv over the same feature
    map. TensorRT 8.x engines of YOLOv8 built each pair as one layer ('/model.22/cv2.0/cv2.0.0/conv/Conv ||
    /model.22/cv3.0/cv3.0.0/conv/Conv') with the two SiLUs as PWN layers of their own: listed as an alternative of
    both on 8.x; no 10.x engine was seen doing it."""
    listed = {layer.nodes[0]: alt["nodes"] for layer in yolov8n.prediction.layers for alt in layer.alternatives
              if len(alt["nodes"]) > 1 and all(n.endswith("/conv/Conv") for n in alt["nodes"])}
    if not yolov8n.target.trt.startswith("8."):
        assert not listed
        return
    pairs = [[f"/model.22/cv2.{i}/cv2.{i}.0/conv/Conv", f"/model.22/cv3.{i}/cv3.{i}.0/conv/Conv"]
             for i in range(len(STRIDES))]
    assert sorted(listed.values()) == sorted(pair for pair in pairs for _ in pair)
    assert set(listed) == {conv for pair in pairs for conv in pair}


def test_a_convolution_with_a_residual_add_is_no_horizontal_merge() -> None:
    """Keras ResNet-50's first block of each stage has two 1x1 convolutions over one input (the shortcut's, fused
    with the residual Add and ReLU, and the bottleneck's first); the 8.x RTX 3090 engine kept them two layers."""
    real = json.loads(artifact("trex/examples/tensorflow/resnet/RTX-3090/fp16/resnet.onnx.engine.graph.json")
                      .read_text())["Layers"]
    assert not [layer["Name"] for layer in real if "||" in layer["Name"]]
    result = audit(WILD / "tf2onnx_resnet50.onnx", trt="8.6", sm="86", precision="fp16")
    assert not [alt for layer in result.prediction.layers for alt in layer.alternatives if "same tensor" in alt["when"]]
