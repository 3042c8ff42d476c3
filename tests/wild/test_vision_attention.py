"""Vision and speech transformer exports the attention analysis had not met: SAM's decomposed relative positions,
and TorchScript's SDPA export with a unit scale (T5, Whisper: the model scales Q itself, or not at all).

Expected values come from the model configs (samples/wild/make_wild_samples.py SAM_RELPOS, samples/README.md's T5
row) and from documented TensorRT behaviour (rules/attention.toml, rules/fusions.toml [platform]).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtadvisor.api import audit

from conftest import REPO

WILD = REPO / "samples" / "wild"

# SAM_RELPOS: image 128, patch 16 -> an 8x8 grid; hidden 64 in 2 heads; layer 0 attends in 4x4 windows, layer 1
# (global_attn_indexes=[1]) over the whole grid; use_rel_pos adds q·R_h and q·R_w (einsums of the queries) to both.
SAM_GRID, SAM_HIDDEN, SAM_HEADS, SAM_WINDOW = 128 // 16, 64, 2, 4
SAM_SITES = [  # (windows, S) per layer
    ((SAM_GRID // SAM_WINDOW) ** 2, SAM_WINDOW * SAM_WINDOW),
    (None, SAM_GRID * SAM_GRID),
]
SAM_RELATIVE_PRODUCTS = 2  # R_h and R_w


@pytest.mark.parametrize("sample", ["hf_sam_vision_relpos.onnx", "hf_sam_vision_relpos.dynamo.onnx"])
def test_sam_decomposed_relative_positions_are_score_products(sample: str) -> None:
    """SAM adds einsum(q, R_h) and einsum(q, R_w) to the scores: products of the queries (reshaped to the grid),
    a second score computation as DeBERTa's disentangled terms are, not a mask or a learned bias. The documented
    pattern (BMM1, pointwise ops with a mask, Softmax, BMM2: rules/attention.toml [verdict.conditions.score_products])
    has no such product, so where every mask fuses (SM90) the verdict is unknown, not fused; where 2-D masks do not
    (SM100) it is not fused. TorchScript keeps the gathered R tables behind a Resize and a Gather, dynamo folds them
    into initializers: the two exports get the same verdict, and the image is no mask input."""
    path = WILD / sample
    judged = audit(path, trt="10.16", sm="90", precision="fp16").attention
    assert judged is not None
    assert [(a.site.num_heads, a.site.head_size, a.site.seq_q, a.site.seq_kv) for a in judged] == \
        [(SAM_HEADS, SAM_HIDDEN // SAM_HEADS, s, s) for _, s in SAM_SITES]
    assert judged[0].site.num_windows == SAM_SITES[0][0]  # 4 windows of 16 tokens
    assert [len(a.site.score_products) for a in judged] == [SAM_RELATIVE_PRODUCTS] * len(SAM_SITES)
    assert [(a.verdict.fused, a.verdict.conditions) for a in judged] == [(None, ("score_products",))] * len(SAM_SITES)
    assert all(a.site.mask == "none" and a.site.causal is False and a.site.mask_inputs == () for a in judged)
    judged = audit(path, trt="10.16", sm="100", precision="fp16").attention
    assert judged is not None
    assert all(a.verdict.fused is False and "score_products" in a.verdict.conditions for a in judged)


# samples/README.md: T5Model, 2 encoder + 2 decoder layers: per layer one self-attention, per decoder layer a cross one.
T5_SITES = 2 + 2 + 2


@pytest.mark.parametrize("sample", ["t5_sdpa.torchscript.opset17.onnx", "t5_eager.torchscript.opset17.onnx"])
def test_unit_scale_sdpa_attention_goes_to_myelin_on_86(sample: str) -> None:
    """T5 does not scale its scores: TorchScript's SDPA export still multiplies Q and Kᵀ by sqrt(1.0), Muls the
    build erases as identity scales. Q·Kᵀ then reads Q and K through removed pass-throughs, still activations:
    from 8.6 the attention is a Myelin region (rules/fusions.toml [platform] myelin_attention_since, the 8.6
    ControlNet engine's ForeignNode), in the SDPA export as in the eager one."""
    path = REPO / "samples" / "transformers" / sample
    softmaxes = {n.name for n in onnx.load(path, load_external_data=False).graph.node if n.op_type == "Softmax"}
    assert len(softmaxes) == T5_SITES
    result = audit(path, trt="8.6", sm="86", precision="fp16")
    in_myelin = {n for layer in result.prediction.layers if layer.kind == "myelin" for n in layer.nodes}
    assert softmaxes <= in_myelin


# timm levit_128s at img_size 112: patch embedding /16 -> a 7x7 grid, each subsampling attention halves it (7, 4, 2);
# stages of depth (2, 3, 4) with (4, 6, 8) heads, key_dim 16, values attn_ratio 2 x 16 wide; the subsampling attentions
# have dim // 16 = 128 // 16 and 256 // 16 heads, queries from the subsampled grid, values attn_ratio 4 x 16 wide.
LEVIT_KEY_DIM = 16
LEVIT_GRIDS = [7 * 7, 4 * 4, 2 * 2]
LEVIT_SITES = (  # (heads, S_q, S_kv, V head) in graph order
    [(4, LEVIT_GRIDS[0], LEVIT_GRIDS[0], 2 * 16)] * 2
    + [(128 // 16, LEVIT_GRIDS[1], LEVIT_GRIDS[0], 4 * 16)]
    + [(6, LEVIT_GRIDS[1], LEVIT_GRIDS[1], 2 * 16)] * 3
    + [(256 // 16, LEVIT_GRIDS[2], LEVIT_GRIDS[1], 4 * 16)]
    + [(8, LEVIT_GRIDS[2], LEVIT_GRIDS[2], 2 * 16)] * 4
)


def test_levit_values_wider_than_queries_are_unknown_not_fused() -> None:
    """LeViT's values are attn_ratio x key_dim wide, its queries and keys key_dim: the documented MHA pattern has one
    head size H for Q, K and V (REF 'Multi-Head Attention Fusion'), so with H = 16 inside every FP16 column the
    verdict is unknown for V's width (rules/attention.toml [verdict.conditions.value_head_differs]), not fused."""
    judged = audit(WILD / "levit_128s_value_heads.onnx", trt="10.16", sm="90", precision="fp16").attention
    assert judged is not None
    assert [(a.site.num_heads, a.site.seq_q, a.site.seq_kv, a.site.value_head_size) for a in judged] == LEVIT_SITES
    assert {a.site.head_size for a in judged} == {LEVIT_KEY_DIM}
    assert [(a.verdict.fused, a.verdict.conditions) for a in judged] == \
        [(None, ("value_head_differs",))] * len(LEVIT_SITES)


@pytest.mark.parametrize("sample", ["hf_sam_vision_relpos.onnx", "hf_sam_vision_relpos.dynamo.onnx"])
def test_sam_attention_reads_v_through_erased_shuffles_on_86(sample: str) -> None:
    """SAM splits the packed QKV and squeezes V, and its global layer reshapes V back to the shape the Squeeze
    took (Squeeze, then a Reshape that undoes it): shuffles that cancel out, which the build erases. The product
    with V still reads an activation through them, so from 8.6 both layers' attention cores are Myelin regions
    (rules/fusions.toml [platform] myelin_attention_since), not the windowed one alone."""
    path = WILD / sample
    softmaxes = {n.name for n in onnx.load(path, load_external_data=False).graph.node if n.op_type == "Softmax"}
    assert len(softmaxes) == len(SAM_SITES)
    result = audit(path, trt="8.6", sm="86", precision="fp16")
    in_myelin = {n for layer in result.prediction.layers if layer.kind == "myelin" for n in layer.nodes}
    assert softmaxes <= in_myelin


def _swiglu_with_shared_bias(tmp_path: Path, fused_projection: bool) -> Path:
    """x [1,16,64] -> gate and up projections with biases (two MatMuls, or one of twice the width cut by Slice as
    timm's GluMlp chunks fc1) -> SiLU(gate) * up -> down projection. The biases are equal, so the TorchScript
    exporter stores one initializer and routes the second reader through an Identity (a freshly initialized
    model's zero biases: EVA02's and DINOv2's SwiGLU exports in every block but the first)."""
    rng = np.random.default_rng(0)
    hidden, inner = 64, 128
    width = 2 * inner if fused_projection else inner
    inits = [numpy_helper.from_array(np.zeros(width, np.float32), "bias"),
             numpy_helper.from_array(rng.standard_normal((inner, hidden)).astype(np.float32), "w_down")]
    nodes = [helper.make_node("Identity", ["bias"], ["bias_dedup"], name="Identity_0")]
    if fused_projection:
        bounds = {"s0": 0, "e0": inner, "s1": inner, "e1": width}
        inits += [numpy_helper.from_array(rng.standard_normal((hidden, width)).astype(np.float32), "w_fc1"),
                  numpy_helper.from_array(np.array([-1], np.int64), "axes")]
        inits += [numpy_helper.from_array(np.array([v], np.int64), k) for k, v in bounds.items()]
        nodes += [helper.make_node("MatMul", ["x", "w_fc1"], ["fc1"], name="fc1/MatMul"),
                  helper.make_node("Add", ["bias_dedup", "fc1"], ["fc1_b"], name="fc1/Add"),
                  helper.make_node("Slice", ["fc1_b", "s0", "e0", "axes"], ["gate"], name="Slice"),
                  helper.make_node("Slice", ["fc1_b", "s1", "e1", "axes"], ["up"], name="Slice_1")]
    else:
        inits += [numpy_helper.from_array(rng.standard_normal((hidden, inner)).astype(np.float32), "w_gate"),
                  numpy_helper.from_array(rng.standard_normal((hidden, inner)).astype(np.float32), "w_up")]
        nodes += [helper.make_node("MatMul", ["x", "w_gate"], ["gate_mm"], name="gate/MatMul"),
                  helper.make_node("Add", ["bias", "gate_mm"], ["gate"], name="gate/Add"),
                  helper.make_node("MatMul", ["x", "w_up"], ["up_mm"], name="up/MatMul"),
                  helper.make_node("Add", ["bias_dedup", "up_mm"], ["up"], name="up/Add")]
    nodes += [helper.make_node("Sigmoid", ["gate"], ["sig"], name="act/Sigmoid"),
              helper.make_node("Mul", ["gate", "sig"], ["act"], name="act/Mul"),
              helper.make_node("Mul", ["act", "up"], ["glu"], name="glu"),
              helper.make_node("MatMul", ["glu", "w_down"], ["y"], name="down/MatMul")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, hidden])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16, hidden])],
                              initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    path = tmp_path / "swiglu.onnx"
    onnx.save(model, path)
    return path


@pytest.mark.parametrize("fused_projection", [False, True], ids=["two_matmuls", "one_matmul_sliced"])
def test_swiglu_whose_bias_is_a_deduplicated_initializer(tmp_path: Path, fused_projection: bool) -> None:
    """A projection's bias read through the Identity TorchScript writes for a deduplicated initializer is still a
    constant: the up branch is a projection and SiLU(gate) * up a SwiGLU (TensorRT 10.10's 'GEMM+SwiGLU' fusion,
    rules/attention.toml [rule.TRT307] source), as in the dynamo export, which writes no Identity."""
    result = audit(_swiglu_with_shared_bias(tmp_path, fused_projection), trt="10.16", sm="90")
    patterns = {p["pattern"]: p["nodes"] for p in result.contract_fields()["patterns"]}
    assert "swiglu" in patterns and "glu" in patterns["swiglu"]


def test_sam_relative_position_products_are_found_with_the_batch_dynamic(tmp_path: Path) -> None:
    """The TorchScript SAM export with its batch dynamic (the exporter's dynamic_axes names the batch of the
    input and output; the nodes are the same). The packed QKV is reshaped to (3, batch * heads, S, -1): the -1 is
    the head size once batch cancels out of the product, and SDPA's scale sqrt(1/sqrt(H)) comes from the Shape of
    that tensor. Every site keeps its heads, head size and sequences, and its 2 q·R products: the same verdict
    as the static export."""
    model = onnx.load(WILD / "hf_sam_vision_relpos.onnx", load_external_data=False)
    for value in (*model.graph.input, *model.graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    path = tmp_path / "sam_dynamic_batch.onnx"
    onnx.save(model, path)
    judged = audit(path, trt="10.16", sm="90", precision="fp16").attention
    assert judged is not None
    assert [(a.site.num_heads, a.site.head_size, a.site.seq_q, a.site.seq_kv) for a in judged] == \
        [(SAM_HEADS, SAM_HIDDEN // SAM_HEADS, s, s) for _, s in SAM_SITES]
    assert [len(a.site.score_products) for a in judged] == [SAM_RELATIVE_PRODUCTS] * len(SAM_SITES)
    assert [(a.verdict.fused, a.verdict.conditions) for a in judged] == [(None, ("score_products",))] * len(SAM_SITES)


def test_the_dynamo_sdpa_zero_mask_is_unknown_on_sm100_not_unfused() -> None:
    """transformers ViTModel with SDPA and no mask (samples/registry.toml: 2 sites, mask none). The dynamo exporter's
    SDPA decomposition adds a [1, 1, 197, 197] tensor of zeros to the scores; the TorchScript export adds nothing.
    softmax(x + 0) = softmax(x): by its shape the tensor is a 2-D mask, which SM100's FP16 column does not list
    (REF 'Multi-Head Attention Fusion': 1-D vector / scalar masks), but whether TensorRT drops an Add of one value
    everywhere is not documented, so the dynamo export is unknown there (rules/attention.toml
    [verdict.conditions.mask_uniform]), not 'not fused', and both exports fuse on SM90 (any mask)."""
    dynamo = REPO / "samples" / "transformers" / "vit_sdpa.dynamo.opset18.onnx"
    torchscript = REPO / "samples" / "transformers" / "vit_sdpa.torchscript.opset17.onnx"
    judged = audit(dynamo, trt="10.16", sm="100", precision="fp16").attention
    assert judged is not None and len(judged) == 2
    assert [(a.site.mask, a.verdict.fused, a.verdict.conditions) for a in judged] == \
        [("none", None, ("mask_uniform",))] * 2
    assert all(a.verdict.fused is True for a in audit(torchscript, trt="10.16", sm="100", precision="fp16").attention)
    for path in (dynamo, torchscript):
        assert all(a.verdict.fused is True for a in audit(path, trt="10.16", sm="90", precision="fp16").attention)
