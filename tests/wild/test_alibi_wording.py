"""ALiBi attention on SM100, where the MHA tables fuse only '1d vector / scalar' masks (REF: Multi-Head Attention
Fusion, table 'Supported MHA Fusions on SM100, SM110', row 'Supported Mask Type'; the other SMs: 'Any masking').

ALiBi adds a slope per head times the key position: one key vector per head, [1, H, 1, S_kv] (Press et al. 2021,
https://arxiv.org/abs/2108.12409). MPT and BLOOM add it as a term of its own beside the causal + padding mask
[B, 1, S_q, S_kv]; Falcon (alibi=True) adds it into that mask first, one [B, H, S_q, S_kv] term. The reason must say
what each term varies over, the fix must not claim ALiBi has no 1-D form, and where causality is read from the
graph's structure the audit must not say it is guessed. Samples: samples/wild/make_wild_samples.py (4 heads x 16,
traced at sequence 16; bloom_alibi: 4 heads x 32, [1, 32]).
"""

from __future__ import annotations

import pytest

from trtadvisor.analysis.attention_sites import find_attention_sites
from trtadvisor.api import audit
from trtadvisor.ir.load import load_model

from conftest import REPO

WILD = REPO / "samples" / "wild"
SHAPES = {"input_ids": (1, 16), "attention_mask": (1, 16)}
HEADS = 4


@pytest.mark.parametrize(("name", "shapes", "seq"), [("mpt_alibi_dynamo", SHAPES, 16), ("bloom_alibi", None, 32)])
def test_alibi_as_a_term_of_its_own_is_a_key_vector_per_head(name: str, shapes: dict | None, seq: int) -> None:
    result = audit(WILD / f"{name}.onnx", trt="10.16", sm="100", precision="fp16", shapes=shapes)
    assert len(result.attention) == 2  # 2 layers
    for judged in result.attention:
        site, verdict = judged.site, judged.verdict
        assert (site.num_heads, site.causal, site.bias) == (HEADS, True, True)
        # the causal + padding term is 2-D as exported: not fused on SM100
        assert verdict.fused is False and verdict.conditions == ("mask_2d_key_bias",)
        (reason,) = verdict.reasons
        assert f"[1x1x{seq}x{seq}]" in reason and "the heads, S_q and S_kv" in reason
        assert "varies over the heads and S_kv only" in reason
        (fix,) = verdict.fixes
        assert "no 1-D form" not in fix and "is_causal" in fix and "not documented" in fix


def test_alibi_added_into_the_causal_mask_is_one_term_over_queries_and_keys() -> None:
    result = audit(WILD / "falcon_alibi_dynamo.onnx", trt="10.16", sm="100", precision="fp16", shapes=SHAPES)
    assert len(result.attention) == 2
    for judged in result.attention:
        verdict = judged.verdict
        assert (judged.site.num_heads, judged.site.causal, judged.site.bias) == (HEADS, True, True)
        assert verdict.fused is False and verdict.conditions == ("mask_2d_bias",)
        (reason,) = verdict.reasons
        assert "[1x4x16x16] varies over the heads, S_q and S_kv" in reason
        (fix,) = verdict.fixes
        assert "no 1-D form" not in fix and "any mask" in fix


@pytest.mark.parametrize("name", ["falcon_alibi_dynamo", "mpt_alibi_dynamo"])
def test_causality_read_from_the_structure_is_not_called_a_guess(name: str) -> None:
    # Without shapes the mask's values are not evaluated, but its causal part is the comparison of query and key
    # positions (a decoder: causal by its architecture); what stays unknown is what the rest adds.
    sites = find_attention_sites(load_model(WILD / f"{name}.onnx").graph)
    assert [s.causal for s in sites] == [True, True]
    for site in sites:
        assert not any("causality is not guessed" in note for note in site.notes)
        assert any("besides the causal triangle" in note for note in site.notes)
