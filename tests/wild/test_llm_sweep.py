"""Decoder-LM structures found by probing Hugging Face exports (Falcon, GPT-NeoX, Qwen2, Gemma, Phi-3, StableLM):
the causal mask computed from the same position ids as the rotary embedding, and gated FFNs whose gate is a
decomposed GELU (Gemma's GeGLU) or whose gate and up projections are the halves of one MatMul (Phi-3's
gate_up_proj). Each graph is built with onnx.helper in the exporters' shape (TorchScript, opset 17)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from tests.conftest import sample_path, sample_registry
from trtadvisor.api import audit

F = TensorProto.FLOAT
HEADS, HEAD, SEQ = 4, 32, 16  # 4 heads of 32, as the probed configs (hidden 128)


class _G:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []

    def const(self, name: str, value: Any, dtype: Any = np.float32) -> str:
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op: str, inputs: list[str], name: str, **attrs: Any) -> str:
        self.nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def save(self, tmp: Path, inputs: list[onnx.ValueInfoProto], out: str, shape: list[Any]) -> Path:
        graph = helper.make_graph(self.nodes, "g", inputs, [helper.make_tensor_value_info(out, F, shape)],
                                  initializer=self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        onnx.checker.check_model(model)
        path = tmp / "m.onnx"
        onnx.save(model, path)
        return path


def _rotary_causal_attention(tmp: Path, compare: str, padding: bool = False) -> Path:
    """One decoder attention whose position ids feed both the rotary factor on Q and K (cos of the positions,
    so the ids reach the products) and the causal mask (key position <= query position, a comparison of the
    same ids), as transformers' decoders compute both from one ``cache_position`` Range. With ``padding``, the
    key-padding ``attention_mask`` is read at the key positions by GatherND (the dynamo exporter's
    ``padding_mask[batch_idx, kv_idx]``) and combined with the causal part by And."""
    g = _G()
    # position ids 0..S-1: a Range to the sequence length read from Q's shape (transformers' cache_position)
    seq = g.op("Gather", [g.op("Shape", ["q"], "q_shape"), g.const("seq_axis", 2, np.int64)], "seq_len")
    pos = g.op("Range", [g.const("start", 0, np.int64), seq, g.const("step", 1, np.int64)], "position_ids")
    col = g.op("Unsqueeze", [pos, g.const("ax1", [1], np.int64)], "pos_col")     # [S,1] query positions
    row = g.op("Unsqueeze", [pos, g.const("ax0", [0], np.int64)], "pos_row")     # [1,S] key positions
    angle = g.op("Cast", [col], "angle", to=F)
    cos = g.op("Cos", [angle], "cos")                                            # [S,1]
    q = g.op("Mul", ["q", cos], "q_rot")
    k = g.op("Mul", ["k", cos], "k_rot")
    kt = g.op("Transpose", [k], "kt", perm=[0, 1, 3, 2])
    scores = g.op("MatMul", [q, kt], "bmm1")
    scaled = g.op("Mul", [scores, g.const("scale", 1 / np.sqrt(HEAD))], "scaled")
    allowed = g.op(compare, [row, col] if compare == "LessOrEqual" else [col, row], "allowed")  # [S,S] bool
    if padding:
        keep = g.op("Cast", ["attention_mask"], "keep", to=TensorProto.BOOL)                       # [S]
        at_keys = g.op("Unsqueeze", [row, g.const("ax2", [2], np.int64)], "kv_idx")             # [1,S,1]
        padded = g.op("GatherND", [keep, at_keys], "key_padding")                                # [1,S]
        allowed = g.op("And", [allowed, padded], "allowed_and_kept")
    mask = g.op("Where", [allowed, g.const("zero", 0.0), g.const("neg", np.finfo(np.float32).min)], "mask")
    masked = g.op("Add", [scaled, mask], "masked")
    probs = g.op("Softmax", [masked], "softmax", axis=-1)
    g.op("MatMul", [probs, "v"], "bmm2")
    shape: list[Any] = [1, HEADS, "sequence", HEAD]  # a dynamic sequence: the mask is computed, not folded
    inputs = [helper.make_tensor_value_info(n, F, shape) for n in ("q", "k", "v")]
    if padding:
        inputs.append(helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["sequence"]))
    return g.save(tmp, inputs, "bmm2", shape)


@pytest.mark.parametrize(("compare", "padding"), [("LessOrEqual", False), ("GreaterOrEqual", False),
                                                  ("LessOrEqual", True)])
@pytest.mark.parametrize(("trt", "sm"), [("10.16", "90"), ("8.6", "86")])
def test_causal_mask_from_the_rotary_positions_keeps_the_fused_site_in_one_layer(
        tmp_path: Path, compare: str, padding: bool, trt: str, sm: str) -> None:
    # A fused MHA site is one kernel (_gemm_mha_v2_mylN_K in 10.x layer lists,
    # ../shared/reference/engine-evidence.md "Attention on TensorRT 10.x"), so BMM1, the Softmax and BMM2 must be
    # in one predicted layer. The comparison that builds the causal mask is an IElementWiseLayer (LESS, EQUAL,
    # OR; rules/ops.toml [class.elementwise]) like the Equal Myelin already takes: before, it was left out of the
    # region, the path positions -> comparison -> mask -> scores left and re-entered the region, and the region
    # was cut between BMM1 and the Softmax. GatherND, which reads the padding mask at the key positions, is the
    # IGatherLayer (kND mode) the importer builds for Gather too (rules/ops.toml [class.gather]).
    result = audit(_rotary_causal_attention(tmp_path, compare, padding), trt=trt, sm=sm, precision="fp16")
    (site,) = result.contract_fields()["attention"]
    assert (site["num_heads"], site["head_size"], site["causal"], site["fused"]) == (HEADS, HEAD, True, True)
    layer_of = {n: layer.name for layer in result.prediction.layers for n in layer.nodes}
    assert layer_of["bmm1"] == layer_of["softmax"] == layer_of["bmm2"]
    assert layer_of["allowed"] == layer_of["softmax"]  # the mask's comparison runs inside the region


def _gated_ffn(tmp: Path, gate: str, fused_projection: bool) -> Path:
    """x [1,S,64] -> gate and up projections (two MatMuls, or one MatMul of twice the width cut in halves by
    Slice, as Phi-3's gate_up_proj) -> act(gate) * up -> down projection."""
    g = _G()
    hidden, inner = 64, 128
    rng = np.random.default_rng(0)
    if fused_projection:
        both = g.op("MatMul", ["x", g.const("w_gate_up", rng.standard_normal((hidden, 2 * inner)))], "gate_up")
        axes = g.const("last", [-1], np.int64)
        gate_t = g.op("Slice", [both, g.const("s0", [0], np.int64), g.const("e0", [inner], np.int64), axes], "gate")
        up = g.op("Slice", [both, g.const("s1", [inner], np.int64), g.const("e1", [2 * inner], np.int64), axes], "up")
    else:
        gate_t = g.op("MatMul", ["x", g.const("w_gate", rng.standard_normal((hidden, inner)))], "gate")
        up = g.op("MatMul", ["x", g.const("w_up", rng.standard_normal((hidden, inner)))], "up")
    if gate == "silu":
        act = g.op("Mul", [gate_t, g.op("Sigmoid", [gate_t], "sig")], "act")
    else:  # GELU, tanh approximation as TorchScript writes gelu(approximate='tanh') at opset 17
        cube = g.op("Pow", [gate_t, g.const("three", 3.0)], "cube")
        inner_sum = g.op("Add", [gate_t, g.op("Mul", [cube, g.const("c044", 0.044715)], "cube_c")], "inner_sum")
        th = g.op("Tanh", [g.op("Mul", [inner_sum, g.const("c079", float(np.sqrt(2 / np.pi)))], "tanh_in")], "tanh")
        half = g.op("Mul", [gate_t, g.const("half", 0.5)], "half_x")
        act = g.op("Mul", [half, g.op("Add", [th, g.const("one", 1.0)], "one_plus")], "act")
    glu = g.op("Mul", [act, up], "glu")
    g.op("MatMul", [glu, g.const("w_down", rng.standard_normal((inner, hidden)))], "down")
    return g.save(tmp, [helper.make_tensor_value_info("x", F, [1, SEQ, hidden])], "down", [1, SEQ, hidden])


@pytest.mark.parametrize("fused_projection", [False, True], ids=["two_matmuls", "one_matmul_sliced"])
@pytest.mark.parametrize(("gate", "kind"), [("silu", "swiglu"), ("gelu_tanh", "geglu")])
def test_gated_ffn_is_named_by_its_gate(tmp_path: Path, gate: str, kind: str, fused_projection: bool) -> None:
    # A GLU FFN is act(x·W_gate) * (x·W_up): SwiGLU with SiLU (Llama, Qwen2, Phi-3), GeGLU with GELU (Gemma's
    # gelu_pytorch_tanh); TensorRT 10.10 names both ('Enabled GEMM+SwiGLU/GeGLU fusion for FP8 and FP16',
    # rules/attention.toml [rule.TRT307] source). Phi-3 computes W_gate and W_up as one MatMul cut in halves.
    result = audit(_gated_ffn(tmp_path, gate, fused_projection), trt="10.16", sm="90")
    patterns = {p["pattern"]: p["nodes"] for p in result.contract_fields()["patterns"]}
    assert kind in patterns
    assert "glu" in patterns[kind]
    assert ({"swiglu", "geglu"} - {kind}).isdisjoint(patterns)


def test_silu_gate_of_a_computed_tensor_is_no_swiglu(tmp_path: Path) -> None:
    # Mamba's block (Gu & Dao 2023, https://arxiv.org/abs/2312.00752; transformers MambaMixer) splits in_proj into
    # x and z and returns out_proj((y + D·x) · SiLU(z)), y the selective scan of x: a SiLU gate, but the gated
    # tensor is computed, not a projection of the block's input, so it is no SwiGLU (act(x·W) · (x·V)).
    g = _G()
    hidden, inner = 64, 128
    rng = np.random.default_rng(0)
    both = g.op("MatMul", ["x", g.const("w_in", rng.standard_normal((hidden, 2 * inner)))], "in_proj")
    g.nodes.append(helper.make_node("Split", [both, g.const("halves", [inner, inner], np.int64)], ["xs", "z"],
                                    name="split", axis=-1))
    scan = g.op("Mul", ["xs", g.op("Sigmoid", ["xs"], "scan_gate")], "scan")  # stands in for the selective scan
    y = g.op("Add", [scan, g.op("Mul", ["xs", g.const("D", rng.standard_normal(inner))], "dx")], "y")
    act = g.op("Mul", ["z", g.op("Sigmoid", ["z"], "z_sig")], "silu_z")
    gated = g.op("Mul", [y, act], "gated")
    g.op("MatMul", [gated, g.const("w_out", rng.standard_normal((inner, hidden)))], "out_proj")
    path = g.save(tmp_path, [helper.make_tensor_value_info("x", F, [1, SEQ, hidden])], "out_proj", [1, SEQ, hidden])
    kinds = [p["pattern"] for p in audit(path, trt="10.16", sm="90").contract_fields()["patterns"]]
    assert kinds.count("silu") == 2  # SiLU(z), and the scan's stand-in x·sigmoid(x)
    assert "swiglu" not in kinds


_FFN_SAMPLES = [s for s in sample_registry() if s.get("facts", {}).get("ffn") in ("swiglu", "geglu", "gelu_mlp")]


@pytest.mark.parametrize("entry", _FFN_SAMPLES, ids=lambda s: Path(s["path"]).name)
def test_registry_samples_name_one_gated_ffn_per_layer(entry: dict[str, Any]) -> None:
    # samples/registry.toml records each model's FFN from its config (ffn: T5 v1.1 'gated-gelu' is a GeGLU,
    # Llama's a SwiGLU, BERT/GPT-2/BART a plain GELU MLP) and its layer count (encoder + decoder layers): one
    # gated FFN per layer, and none in a plain MLP. T5's decomposed GELU gate was not taken as a GeGLU before.
    facts = entry["facts"]
    kinds = [p["pattern"] for p in audit(sample_path(entry), trt="10.16", sm="90").contract_fields()["patterns"]]
    expected = {"swiglu": 0, "geglu": 0}
    if facts["ffn"] in expected:
        expected[facts["ffn"]] = facts["num_layers"]
    assert {kind: kinds.count(kind) for kind in expected} == expected


def test_gated_ffn_findings_do_not_depend_on_the_hash_seed() -> None:
    # Same input -> byte-identical output (the project's rule). The GELU outputs were a set iterated in hash order,
    # so T5's four GeGLUs were listed in TRT307's nodes in an order that changed with PYTHONHASHSEED.
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    entry = next(s for s in _FFN_SAMPLES if s["facts"]["ffn"] == "geglu")
    outputs = set()
    for seed in ("1", "2", "3"):
        env = dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=str(REPO))
        done = subprocess.run([sys.executable, "-m", "trtadvisor", "audit", str(sample_path(entry)), "--trt", "10.16",
                               "--sm", "90", "--format", "json", "--exit-zero"],
                              capture_output=True, text=True, env=env, cwd=REPO, timeout=300, check=True)
        outputs.add(done.stdout)
    assert len(outputs) == 1


# Decoding steps with past key/values (samples/wild/make_wild_samples.py: 2 decoder layers each, batch, sequence
# and past length dynamic): the key positions are a Range from the past length, read from the past keys' Shape.
_PAST_KV = ["gpt2_past_kv_dynamic", "llama_past_kv_dynamic", "mistral_sliding_window_past"]


@pytest.mark.parametrize("name", _PAST_KV)
@pytest.mark.parametrize(("trt", "sm"), [("10.16", "90"), ("8.6", "86")])
def test_fused_sites_of_past_kv_decoders_are_one_layer(name: str, trt: str, sm: str) -> None:
    # A fused MHA site runs as one kernel (_gemm_mha_v2_mylN_K, ../shared/reference/engine-evidence.md "Attention
    # on TensorRT 10.x"), so its nodes are one predicted layer. The causal mask compares key positions computed
    # from shapes alone (Shape of the past keys -> Gather -> Add -> Range): those values depend on no layer's data,
    # but a path through them counted as one leaving the Myelin region and coming back, which cut the first
    # layer's attention between Q·Kᵀ and the Softmax (2 layers on 10.16, 7-8 on 8.6).
    from tests.conftest import REPO

    result = audit(REPO / "samples" / "wild" / f"{name}.onnx", trt=trt, sm=sm, precision="fp16")
    assert [j.verdict.fused for j in result.attention] == [True, True]  # 2 decoder layers, FP16 on SM86/SM90
    layer_of = {n: layer.name for layer in result.prediction.layers for n in layer.nodes}
    for judged in result.attention:
        assert len({layer_of[n] for n in judged.site.nodes if n in layer_of}) == 1, judged.site.anchor
