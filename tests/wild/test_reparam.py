"""TRT208: parallel convolution branches summed over one input (RepVGG, MobileOne, ACNet blocks as trained).

Counts come from the architectures: timm's RepVGG-A0 is a stem and stages of 2-4-14-1 blocks, each a 3x3
and a 1x1 convolution of one input added, with a BatchNorm identity branch in every block whose stride is
1 (all but the stem and each stage's first); MobileOne-S0 is a stem (a 3x3 and a 1x1 branch) and 21
blocks of a depthwise unit (four 3x3 branches and a 1x1 scale branch, an identity at stride 1) and a
pointwise unit (four 1x1 branches, an identity where the width stays).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from trtadvisor.analysis.branches import summed_branches
from trtadvisor.api import audit
from trtadvisor.ir.graph import Graph

from conftest import SAMPLES

WILD = SAMPLES / "wild"
REPVGG = WILD / "repvgg_a0.onnx"
MOBILEONE = WILD / "mobileone_s0.dynamo.onnx"
FASTVIT_DYNAMO = WILD / "fastvit_t8.dynamo.onnx"
FASTVIT = WILD / "fastvit_t8.onnx"


def _graph(text: str) -> Graph:
    """The graph of ONNX text, its const_* inputs turned into initializers."""
    model = onnx.parser.parse_model(text)
    graph = model.graph
    for vi in list(graph.input):
        if vi.name.startswith("const_"):
            dims = [d.dim_value for d in vi.type.tensor_type.shape.dim]
            graph.initializer.append(numpy_helper.from_array(np.full(dims, 0.5, np.float32), vi.name))
            graph.input.remove(vi)
    return Graph(onnx.shape_inference.infer_shapes(model).graph)


def _sites(body: str, inputs: str = "float[1,8,16,16] x") -> list:
    text = f'''<ir_version: 8, opset_import: ["" : 17]>
g ({inputs}, float[8,8,3,3] const_w3, float[8,8,1,1] const_w1, float[8,8,1,3] const_w13,
   float[8,8,3,1] const_w31, float[8] const_g, float[8] const_b, float[8] const_m, float[8] const_v,
   float[8,1,1] const_s, float[1,8,16,16] z)
  => (float[1,8,16,16] y) {{
{body}
}}'''
    return summed_branches(_graph(text))


def test_repvgg_a0_blocks_are_found_with_their_branches() -> None:
    result = audit(REPVGG, trt="10.8", sm="90", precision="fp16")
    found = [f for f in result.findings if f.rule == "TRT208"]
    assert len(found) == 1 + 2 + 4 + 14 + 1
    three = [f for f in found if "3 parallel branches" in f.message]
    assert len(three) == 22 - 5  # every block but the stem and the four stage openers (stride 2)
    assert all("BatchNorm identity, 1x1 conv, 3x3 conv" in f.message for f in three)
    assert all("one 3x3 convolution" in f.message for f in found)
    # The identity blocks are 4 layers (3x3, 1x1 + Add, BatchNorm, Add + Relu), the others 2.
    assert Counter("as 4 layers" in f.message for f in three) == {True: 17}
    # Priced: the layers the merge removes, each with a predicted time on the target.
    assert all(f.cost_ms and f.cost_ms > 0 for f in found)


def test_mobileone_s0_dynamo_blocks_are_found() -> None:
    result = audit(MOBILEONE, trt="10.8", sm="90", precision="fp16")
    found = [f for f in result.findings if f.rule == "TRT208"]
    assert len(found) == 1 + 2 * (2 + 8 + 10 + 1)
    branches = Counter(int(f.message.split(" parallel branches")[0]) for f in found)
    # stem 2; depthwise 4 x 3x3 + 1x1 (+ identity at stride 1: 21 units, 4 stage openers); pointwise
    # 4 x 1x1 (+ identity where the width stays: all but 3 stage openers)
    assert branches == {2: 1, 6: 21 - 4, 5: 4 + (21 - 3), 4: 3}
    assert sum("(BatchNorm identity" in f.message for f in found) == 17 + 18


def test_fastvit_summed_convolutions_before_a_gelu_stay_two_layers() -> None:
    """FastViT-T8's stem opens with two MobileOneBlocks whose branches (a 3x3 and a 1x1 convolution of one
    input, stride 2; the dynamo optimizer folds each BatchNorm into its convolution) are added and then
    go through an erf GELU. The Add and GELU join one convolution's epilogue; the other convolution is a
    layer of its own (a TensorRT convolution layer runs one convolution), and the pair is a TRT208 site."""
    result = audit(FASTVIT_DYNAMO, trt="10.8", sm="90", precision="fp16")
    assert [layer.name for layer in result.prediction.layers if layer.ops.count("Conv") > 1] == []
    model = onnx.load(FASTVIT_DYNAMO, load_external_data=False)
    stem = [n.name for n in model.graph.node if n.op_type == "Conv" and n.input[0] == "input"]
    assert len(stem) == 2  # the first block's 3x3 and 1x1 branches
    found = [f for f in result.findings if f.rule == "TRT208"]
    assert any(set(stem) <= set(f.nodes) and f.message.startswith("2 parallel branches") for f in found)


def test_fastvit_rep_mixers_large_kernels_and_mobileone_units_are_found() -> None:
    # timm fastvit_t8: stages of 2-2-4-2 blocks, every token mixer a RepMixer, x + s * (mixer(x) - BN(x)),
    # its mixer a MobileOne unit (3x3 depthwise + 1x1 scale + BN identity); three patch embeddings, each a
    # 7x7 depthwise convolution with a parallel 3x3 (ReparamLargeKernelConv) and a width-keeping 1x1
    # MobileOne unit with its identity; the stem's three MobileOne units (3x3 + 1x1 scale at stride 2,
    # twice, then a 1x1 with its identity), and the final 3x3 unit with its 1x1 scale.
    result = audit(FASTVIT, trt="10.8", sm="90", precision="fp16")
    sites = Counter(s.describe() for s in summed_branches(result.model.graph))
    assert sites == {"2 x BatchNorm identity, identity, 1x1 conv, 3x3 conv": 2 + 2 + 4 + 2,
                     "3x3 conv, 7x7 conv": 3, "BatchNorm identity, 1x1 conv": 1 + 3, "1x1 conv, 3x3 conv": 2 + 1}
    found = [f for f in result.findings if f.rule == "TRT208"]
    assert len(found) == 20 and all(f.cost_ms for f in found)


@pytest.mark.parametrize(("case", "body", "kernel"), [
    ("repvgg", "a = Conv<pads=[1,1,1,1]>(x, const_w3)\n b = Conv(x, const_w1)\n"
     " n = BatchNormalization(x, const_g, const_b, const_m, const_v)\n s = Add(a, b)\n y = Add(s, n)", (3, 3)),
    ("acnet", "a = Conv<pads=[1,1,1,1]>(x, const_w3)\n b = Conv<pads=[0,1,0,1]>(x, const_w13)\n"
     " c = Conv<pads=[1,0,1,0]>(x, const_w31)\n s = Add(a, b)\n y = Add(c, s)", (3, 3)),
    ("asymmetric only", "b = Conv<pads=[0,1,0,1]>(x, const_w13)\n c = Conv<pads=[1,0,1,0]>(x, const_w31)\n"
     " y = Sum(b, c)", (3, 3)),
    ("a RepMixer: x + s * (BN(conv(x)) - BN(x))",
     "a = Conv<pads=[1,1,1,1]>(x, const_w3)\n an = BatchNormalization(a, const_g, const_b, const_m, const_v)\n"
     " n = BatchNormalization(x, const_g, const_b, const_m, const_v)\n d = Sub(an, n)\n"
     " e = Mul(d, const_s)\n y = Add(x, e)", (3, 3)),
    ("a BatchNorm of the sum (RepViT)",
     "a = Conv<pads=[1,1,1,1]>(x, const_w3)\n b = Conv(x, const_w1)\n s = Add(a, b)\n t = Add(s, x)\n"
     " y = BatchNormalization(t, const_g, const_b, const_m, const_v)", (3, 3)),
])
def test_mergeable_sums(case: str, body: str, kernel: tuple[int, int]) -> None:
    sites = _sites(body)
    assert len(sites) == 1, case
    assert sites[0].kernel == kernel and sites[0].pads == (1, 1, 1, 1)
    assert sites[0].output == "y"


@pytest.mark.parametrize(("case", "body"), [
    ("another input (a ResNet residual)",
     "r = Relu(x)\n a = Conv<pads=[1,1,1,1]>(r, const_w3)\n b = Conv(x, const_w1)\n y = Add(a, b)"),
    ("off-centre padding", "a = Conv<pads=[1,1,1,1]>(x, const_w3)\n b = Conv<pads=[1,1,0,0]>(x, const_w1)\n"
     " y = Add(a, b)"),
    ("a dilated kernel", "a = Conv<pads=[2,2,2,2], dilations=[2,2]>(x, const_w3)\n b = Conv(x, const_w1)\n"
     " y = Add(a, b)"),
    ("a branch read elsewhere too", "a = Conv<pads=[1,1,1,1]>(x, const_w3)\n b = Conv(x, const_w1)\n"
     " s = Add(a, b)\n t = Relu(b)\n y = Add(s, t)"),
    ("a nonlinear branch", "a = Conv<pads=[1,1,1,1]>(x, const_w3)\n b = Conv(x, const_w1)\n r = Relu(b)\n"
     " y = Add(a, r)"),
    ("a product of two branches", "a = Conv<pads=[1,1,1,1]>(x, const_w3)\n b = Conv(x, const_w1)\n"
     " y = Mul(a, b)"),
])
def test_sums_that_are_not_one_convolution(case: str, body: str) -> None:
    assert _sites(body) == [], case


def test_the_largest_combination_over_one_source_is_taken() -> None:
    """RepGhost: the branches' sum is added to a shortcut of another tensor; the sum is the site."""
    body = ("a = Conv<pads=[1,1,1,1]>(x, const_w3)\n n = BatchNormalization(x, const_g, const_b, const_m, const_v)\n"
            " s = Add(a, n)\n y = Add(s, z)")
    sites = _sites(body)
    assert len(sites) == 1 and sites[0].output == "s" and sites[0].describe() == "BatchNorm identity, 3x3 conv"
    # a product with a tensor that is no per-channel constant is not linear: the site stops below it
    scaled = _sites("a = Conv<pads=[1,1,1,1]>(x, const_w3)\n b = Conv(x, const_w1)\n s = Add(a, b)\n y = Mul(s, z)")
    assert len(scaled) == 1 and scaled[0].output == "s"


def test_a_convolution_plus_its_input_is_no_finding(tmp_path) -> None:
    """x + conv(x) is one convolution too, but TensorRT already runs it as one layer (the Add is the
    convolution's epilogue): not even a candidate."""
    body = "a = Conv<pads=[1,1,1,1]>(x, const_w3)\n y = Add(a, x)"
    assert _sites(body) == []
    text = f'''<ir_version: 8, opset_import: ["" : 17]>
g (float[1,8,16,16] x, float[8,8,3,3] const_w3) => (float[1,8,16,16] y) {{
{body}
}}'''
    model = onnx.parser.parse_model(text)
    model.graph.initializer.append(numpy_helper.from_array(np.full((8, 8, 3, 3), 0.5, np.float32), "const_w3"))
    del model.graph.input[1]
    path = tmp_path / "residual.onnx"
    onnx.save(model, str(path))
    result = audit(path, trt="10.8", sm="90", precision="fp16")
    assert len(result.prediction.layers) == 1
    assert not [f for f in result.findings if f.rule == "TRT208"]


def test_identity_branch_needs_stride_one() -> None:
    body = ("a = Conv<pads=[1,1,1,1], strides=[2,2]>(x, const_w3)\n b = Conv<strides=[2,2]>(x, const_w1)\n"
            " y = Add(a, b)")
    assert len(_sites(body)) == 1
    with_identity = ("a = Conv<pads=[1,1,1,1], strides=[2,2]>(x, const_w3)\n b = Conv<strides=[2,2]>(x, const_w1)\n"
                     " n = BatchNormalization(x, const_g, const_b, const_m, const_v)\n s = Add(a, b)\n y = Add(s, n)")
    # the identity cannot join a strided convolution: only the two convolutions merge
    assert [(site.output, len(site.branches)) for site in _sites(with_identity)] == [("s", 2)]
