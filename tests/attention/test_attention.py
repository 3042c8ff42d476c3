"""Attention sites, normalizations and MHA verdicts: real exported samples and one small graph per branch."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import onnx
import pytest

from tests.attention.models import attention_model, swin_model
from tests.conftest import sample_path, sample_registry
from trtadvisor.analysis.attention_sites import find_attention_sites
from trtadvisor.analysis.normalization import find_normalizations
from trtadvisor.api import AuditResult
from trtadvisor.api import audit as _audit_model
from trtadvisor.ir.load import load_model

# These tests judge the MHA tables on weakly typed builds, where --precision decides the kernels
# (the tables' columns). The default target is TensorRT 11, strongly typed: there an FP32 model
# builds FP32 attention whatever --precision says, so they pin the newest weakly typed release.
WEAK_TRT = "10.16"


def audit(path: Any, **target: Any) -> AuditResult:
    target.setdefault("trt", WEAK_TRT)
    return _audit_model(path, **target)


TRANSFORMERS = [s for s in sample_registry() if s["family"] in ("transformers", "attention")]


def _ids(entry: dict[str, Any]) -> str:
    return Path(entry["path"]).name


def _dims(site: dict[str, Any]) -> tuple[Any, ...]:
    return (site["kind"], site["num_heads"], site["num_kv_heads"], site["head_size"], site["seq_q"], site["seq_kv"])


@pytest.mark.parametrize("entry", TRANSFORMERS, ids=_ids)
def test_every_site_with_its_dimensions(entry: dict[str, Any]) -> None:
    facts = entry["facts"]
    sites = find_attention_sites(load_model(sample_path(entry)).graph)
    assert len(sites) == facts["num_attention_sites"]
    found = Counter((s.kind, s.num_heads, s.num_kv_heads, s.head_size, s.seq_q, s.seq_kv) for s in sites)
    assert found == Counter(_dims(f) for f in facts["attention_sites"])
    cross = sum(1 for s in sites if s.cross)
    assert cross == facts["num_cross_attention_sites"]


@pytest.mark.parametrize("entry", TRANSFORMERS, ids=_ids)
def test_causal_and_mask_where_the_file_holds_them(entry: dict[str, Any]) -> None:
    facts = entry["facts"]["attention_sites"]
    sites = find_attention_sites(load_model(sample_path(entry)).graph)
    # Sites come in graph order, which is the module order of the registry (encoder, then decoder self/cross).
    for site, fact in zip(sites, facts, strict=True):
        assert (site.seq_q, site.seq_kv) == (fact["seq_q"], fact["seq_kv"])
        if site.causal is None or site.mask is None:
            # Only where the mask is a float constant externalised with the weights (samples/README.md).
            assert any("external" in n for n in site.notes)
        if site.causal is not None:
            assert site.causal == fact["causal"]
        if site.mask is not None:
            assert site.mask == fact["mask"]
        if fact.get("relative_position_bias") and entry["exporter"] == "torchscript" and fact["type"] == "self":
            assert site.bias


@pytest.mark.parametrize("entry", TRANSFORMERS, ids=_ids)
def test_layernorm_rmsnorm_and_gelu_counts(entry: dict[str, Any]) -> None:
    facts = entry["facts"]
    norms = Counter(s.kind for s in find_normalizations(load_model(sample_path(entry)).graph))
    assert norms["layernorm"] == facts["layernorm"]
    assert norms["rmsnorm"] == facts["rmsnorm"]
    # TensorRT 8.2 has no Myelin: every GELU is its own predicted layer there.
    layers = audit(sample_path(entry), trt="8.2", sm="90").prediction.layers
    assert sum(1 for layer in layers if "gelu" in layer.fusions) == facts["gelu"]
    assert sum(1 for layer in layers if "layernorm" in layer.fusions) == facts["layernorm"]
    assert sum(1 for layer in layers if "rmsnorm" in layer.fusions) == facts["rmsnorm"]


# -- verdicts of the tables on the plain SDPA blocks (registry facts: head size, seq, mask) -------------

SMS = (75, 80, 86, 89, 90, 100, 120)
PRECISIONS = ("fp16", "bf16", "int8", "fp8")


def _expected(entry: dict[str, Any], sm: int, precision: str) -> bool:
    """The reference tables, written out independently of rules/attention.toml."""
    fact = entry["facts"]["attention_sites"][0]
    h, _s_q, _s_kv = fact["head_size"], fact["seq_q"], fact["seq_kv"]
    if sm in (100, 110):
        if precision == "int8":
            return False
        lo, hi, mult = (16, 128, 16) if precision == "fp8" else (8, 128, 8)
        # A mask tensor over S_q x S_kv is 2-D; opset 23 passes causality as the is_causal attribute.
        two_d = fact["mask"] in ("bool", "additive") or (fact["mask"] == "causal" and entry["opset"] != 23)
        return precision != "fp8" and lo <= h <= hi and h % mult == 0 and not two_d
    if precision == "fp16":
        return 16 <= h <= 256 and h % 8 == 0
    if precision == "bf16":
        return sm >= 80 and 16 <= h <= 256 and h % 8 == 0
    return False  # INT8 and FP8 need Q/DQ in the pattern; the samples have none


ATTENTION_BLOCKS = [s for s in TRANSFORMERS if s["family"] == "attention"]


@pytest.mark.parametrize("entry", ATTENTION_BLOCKS, ids=_ids)
def test_verdicts_of_the_tables(entry: dict[str, Any]) -> None:
    for sm in SMS:
        for precision in PRECISIONS:
            result = audit(sample_path(entry), sm=str(sm), precision=precision)
            (site,) = result.contract_fields()["attention"]
            assert site["fused"] is _expected(entry, sm, precision), (sm, precision, site["reasons"])
            assert (site["reasons"] == []) is site["fused"]
            fused_layers = [layer for layer in result.prediction.layers if "mha" in layer.fusions]
            assert bool(fused_layers) is site["fused"]


def test_named_failing_conditions_on_the_samples() -> None:
    def reasons(name: str, **target: str) -> list[str]:
        entry = next(s for s in ATTENTION_BLOCKS if s["name"] == name and s["exporter"] == "dynamo"
                     and s["opset"] == 18)
        return audit(sample_path(entry), **target).contract_fields()["attention"][0]["reasons"]

    assert "head size 320 > 256 for FP16 on SM90" in reasons("sdpa_head320", sm="90")
    assert "head size 320 > 128 for FP16 on SM100" in reasons("sdpa_head320", sm="100")
    assert "head size 24 is not a multiple of 16 for FP8 on SM90" in reasons("sdpa_head24", sm="90", precision="fp8")
    assert any(r == "S_q 1024 > 512 for INT8 on SM80" for r in reasons("sdpa_seq1024", sm="80", precision="int8"))
    assert reasons("sdpa_causal_baseline", sm="80", precision="fp8") == [
        "no fused FP8 MHA kernel on SM80 (SM80 has FP16, BF16, INT8)"]
    assert any("(2-D) for FP16 on SM100" in r for r in reasons("sdpa_mask2d_bool", sm="100"))


@pytest.mark.parametrize("sm", ["70", "61", "72"])
def test_targets_outside_the_tables_are_unknown(sm: str) -> None:
    entry = ATTENTION_BLOCKS[0]
    result = audit(sample_path(entry), sm=sm)
    assert result.contract_fields()["attention"][0]["fused"] is None
    assert "TRT302" in {f.rule for f in result.findings}


def test_gqa_reports_true_kv_heads_and_advises_unrepeated_kv() -> None:
    entry = next(s for s in TRANSFORMERS if s["name"] == "llama_gqa_sdpa" and s["opset"] == 23)
    result = audit(sample_path(entry))
    fact = entry["facts"]["attention_sites"][0]
    assert {(a["num_heads"], a["num_kv_heads"]) for a in result.contract_fields()["attention"]} == {
        (fact["num_heads"], fact["num_kv_heads"])}
    assert sum(1 for f in result.findings if f.rule == "TRT303") == entry["facts"]["num_attention_sites"]


def test_native_attention_needs_10_14_and_decomposed_needs_8_6() -> None:
    native = next(s for s in ATTENTION_BLOCKS if s["opset"] == 23)
    old = audit(sample_path(native), trt="10.8")
    assert old.contract_fields()["attention"][0]["fused"] is False
    assert "TRT304" in {f.rule for f in old.findings}
    decomposed = next(s for s in ATTENTION_BLOCKS if s["name"] == "sdpa_causal_baseline" and s["opset"] == 17)
    assert audit(sample_path(decomposed), trt="8.2").contract_fields()["attention"][0]["fused"] is False
    assert audit(sample_path(decomposed), trt="8.6").contract_fields()["attention"][0]["fused"] is True


# -- one small graph per branch ---------------------------------------------------------------------

def _audit(tmp_path: Path, model: onnx.ModelProto, **target: str) -> dict[str, Any]:
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    (site,) = audit(path, **target).contract_fields()["attention"]
    return site


@pytest.mark.parametrize(("knobs", "target", "fused", "expect"), [
    ({}, {"sm": "90"}, True, {"mask": "none", "scale_ok": True}),
    ({"scale": "q"}, {"sm": "90"}, True, {}),
    ({"scale": "q+k"}, {"sm": "90"}, True, {}),
    ({"head": 320}, {"sm": "90"}, False, {"reason": "head size 320 > 256 for FP16 on SM90"}),
    ({"head": 8}, {"sm": "100"}, True, {}),
    ({"head": 8}, {"sm": "90"}, False, {"reason": "head size 8 < 16 for FP16 on SM90"}),
    ({"kv_heads": 2, "mask": "padding"}, {"sm": "100"}, True, {"kind": "gqa", "num_kv_heads": 2, "mask": "padding"}),
    ({"kv_heads": 2, "repeat": "tile", "mask": "causal"}, {"sm": "90"}, True, {"kind": "gqa", "causal": True}),
    ({"kv_heads": 2, "mask": "causal"}, {"sm": "100"}, False, {"causal": True}),
    ({"kv_heads": 1}, {"sm": "90"}, True, {"kind": "mqa", "num_kv_heads": 1}),
    ({"seq_kv": 64, "seq_q": 16}, {"sm": "90"}, True, {"seq_q": 16, "seq_kv": 64}),
    ({"mask": "bias"}, {"sm": "100"}, False, {}),
    ({"mask": "bool2d"}, {"sm": "90"}, True, {"mask": "bool"}),
    ({"qdq": "int8", "head": 64, "seq_q": 512}, {"sm": "80", "precision": "int8"}, True, {}),
    ({"qdq": "int8", "head": 64, "seq_q": 1024}, {"sm": "80", "precision": "int8"}, False,
     {"reason": "S_q 1024 > 512 for INT8 on SM80"}),
    ({"qdq": "int8", "head": 48}, {"sm": "86", "precision": "int8"}, False,
     {"reason": "head size 48 is not one of {16, 32, 64} for INT8 on SM86"}),
    ({}, {"sm": "80", "precision": "int8"}, False, {}),
    ({"qdq": "int8"}, {"sm": "100", "precision": "int8"}, False, {}),
    ({"qdq": "fp8", "head": 64}, {"sm": "89", "precision": "fp8"}, True, {}),
    ({"qdq": "fp8", "head": 64, "seq_q": 16}, {"sm": "90", "precision": "fp8"}, False,
     {"reason": "S_q 16 < 32 for FP8 on SM90 (and S_q != 1)"}),
    ({"qdq": "fp8", "head": 64, "seq_q": 1, "seq_kv": 16}, {"sm": "120", "precision": "fp8"}, True, {}),
    ({"qdq": "fp8", "head": 64}, {"sm": "100", "precision": "fp8"}, True, {}),
    ({"qdq": "fp8", "head": 24}, {"sm": "90", "precision": "fp8"}, False,
     {"reason": "head size 24 is not a multiple of 16 for FP8 on SM90"}),
    ({}, {"sm": "75", "precision": "bf16"}, False, {}),
    ({}, {"sm": "90", "precision": "fp32"}, None, {}),
    ({"native": True, "causal_attr": True}, {"sm": "100"}, True, {"causal": True, "mask": "causal"}),
    ({"native": True, "kv_heads": 2}, {"sm": "90"}, True, {"kind": "gqa", "num_kv_heads": 2}),
    ({"native": True}, {"sm": "90", "trt": "10.8"}, False, {}),
])
def test_branches(tmp_path: Path, knobs: dict[str, Any], target: dict[str, str], fused: bool | None,
                  expect: dict[str, Any]) -> None:
    site = _audit(tmp_path, attention_model(**knobs), **target)
    assert site["fused"] is fused, site["reasons"]
    assert site["head_size"] == knobs.get("head", 64)
    assert site["num_heads"] == 4
    for key, value in expect.items():
        if key == "reason":
            assert value in site["reasons"]
        elif key != "scale_ok":
            assert site[key] == value


@pytest.mark.parametrize("mix", ["einsum_heads", "linear_heads_after", "conv_heads_after"])
@pytest.mark.parametrize("sm", ["90", "100", "70"])
def test_a_mix_across_heads_is_a_site_no_gpu_fuses(tmp_path: Path, mix: str, sm: str) -> None:
    """Talking heads however written (one Einsum over the head axis, a Linear between Transposes, a 1x1 Conv over
    the heads with a BatchNormalization as DeepViT's re-attention; onnx.helper graphs): the site is
    found with its dimensions, and no target fuses it, not even one outside the tables (the pattern fails)."""
    site = _audit(tmp_path, attention_model(mix=mix), sm=sm)
    assert (site["num_heads"], site["head_size"], site["seq_q"], site["seq_kv"]) == (4, 64, 128, 128)
    assert site["fused"] is False and site["conditions"] == ["head_mixing"]


@pytest.mark.parametrize("mix", ["linear_keys", "softmax_over_queries"])
def test_a_map_over_keys_or_a_softmax_over_queries_is_no_head_mix_site(tmp_path: Path, mix: str) -> None:
    """A learned map over the key axis, or a Softmax that normalizes the queries, is not the attention the MHA
    fusion or talking heads compute: the head-mix walk follows the axes and finds no site there."""
    path = tmp_path / "m.onnx"
    onnx.save(attention_model(mix=mix), path)
    assert not audit(path, sm="90").attention


@pytest.mark.parametrize(("mix", "said"), [("renormalized_after", "renormalized by their sum over the keys"),
                                           ("gated_after", "multiplied by a gate")])
def test_probabilities_combined_after_the_softmax_is_a_site_no_gpu_fuses(tmp_path: Path, mix: str, said: str) -> None:
    """Probabilities divided by their own sum over the keys, or multiplied by a per-head gate computed from an
    input (ConViT's GPSA does both, with a second map; onnx.helper graphs, one op each): the site is found with its
    dimensions and is not fused, for the op between the Softmax and BMM2 the documented pattern does not have."""
    site = _audit(tmp_path, attention_model(mix=mix), sm="90")
    assert (site["num_heads"], site["head_size"], site["seq_q"], site["seq_kv"]) == (4, 64, 128, 128)
    assert site["fused"] is False and site["conditions"] == ["probabilities_combined"]
    assert said in site["reasons"][0]


@pytest.mark.parametrize("native", [False, True])
@pytest.mark.parametrize(("head_v", "sm"), [(32, "90"), (32, "100"), (128, "90")])
def test_a_value_head_other_than_the_query_head_is_unknown(tmp_path: Path, native: bool, head_v: int,
                                                           sm: str) -> None:
    """V 32 or 128 wide against Q and K's 64 (LeViT's attn_ratio; onnx.helper graphs, decomposed and the Attention
    op): REF 'Multi-Head Attention Fusion' gives Q [B, N_q, S_q, H] and K, V [B, N_kv, S_kv, H], one H for the three,
    so a kernel for another V width is not documented: unknown where every other condition holds (H = 64 and no
    mask fuse on SM90 and SM100), with V's width in the reason."""
    site = _audit(tmp_path, attention_model(head_v=head_v, native=native), sm=sm)
    assert (site["num_heads"], site["head_size"], site["seq_q"], site["seq_kv"]) == (4, 64, 128, 128)
    assert site["fused"] is None and site["conditions"] == ["value_head_differs"]
    assert f"V's head size {head_v} differs from Q and K's 64" in site["reasons"][0]


@pytest.mark.parametrize("native", [False, True])
def test_a_value_head_equal_to_the_query_head_is_no_condition(tmp_path: Path, native: bool) -> None:
    """The control: head_v given equal to the head size is the documented form and fuses on SM90."""
    site = _audit(tmp_path, attention_model(head=64, head_v=64, native=native), sm="90")
    assert site["fused"] is True and site["conditions"] == []


def test_probabilities_scaled_by_a_constant_alone_stay_no_site(tmp_path: Path) -> None:
    """A constant factor on the probabilities is no gate, map or renormalization: the wide walk does not make it a
    site (as before it existed)."""
    path = tmp_path / "m.onnx"
    onnx.save(attention_model(mix="scaled_after"), path)
    assert not audit(path, sm="90").attention


def test_swin_style_graph_is_found(tmp_path: Path) -> None:
    # Its time per node is measured in benchmarks/bench_parts.py (timing does not belong in a test).
    blocks, windows, tokens, heads = 180, 64, 49, 3
    path = tmp_path / "swin.onnx"
    onnx.save(swin_model(blocks, windows=windows, tokens=tokens, heads=heads), path)
    nodes = len(onnx.load(path).graph.node)
    assert nodes >= 6000
    result = audit(path)
    sites = result.contract_fields()["attention"]
    assert len(sites) == blocks
    assert {(s["num_heads"], s["head_size"], s["seq_q"], s["seq_kv"]) for s in sites} == {(heads, 32, tokens, tokens)}
    assert all(s["mask"] == "none" for s in sites[::2]) and all(s["mask"] == "constant" for s in sites[1::2])
    assert all(s["causal"] is False for s in sites)
