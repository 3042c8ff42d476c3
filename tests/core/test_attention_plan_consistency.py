"""An attention site judged fused runs as one fused-MHA kernel, one engine layer (_gemm_mha_v2_mylN_K in 10.x layer
lists, ../shared/reference/engine-evidence.md "Attention on TensorRT 10.x"): the verdict and the predicted layers
must agree on it.

Where they do not (a Myelin region cut between Q·Kᵀ and the Softmax of a site the tables let fuse), the audit must
not claim the fused kernel: the verdict becomes unknown with the condition fused_split_across_layers, naming the
layers. And no committed sample may have such a site on any of the targets below: a plan pass that cuts a fused
site again (as the shape-only position ids of past-KV decoders did before 2d24c83) fails here, whatever graph it is.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import onnx
import pytest

from tests.attention.models import attention_model
from tests.conftest import REPO
from trtadvisor.analysis.mha_rules import SPLIT_CONDITION
from trtadvisor.api import AuditResult, audit
from trtadvisor.knowledge.rulebook import load_rulebook

SAMPLES = sorted((REPO / "samples").rglob("*.onnx"))
# Myelin on 10.x (Hopper, Blackwell, Ampere) and the 8.6 plan, whose regions are formed differently.
TARGETS = [("10.16", "90"), ("10.16", "100"), ("10.16", "80"), ("8.6", "86")]


def _split_fused_sites(result: AuditResult) -> list[str]:
    """Each site the audit judged fused or downgraded for a split, whose BMM1, Softmax and BMM2 (site.core) are
    not all in one of the predicted layers: read from the layers themselves, not from the plan's own check."""
    layer_of = {n: i for i, layer in enumerate(result.prediction.layers) for n in layer.nodes}
    found = []
    for judged in result.attention or ():
        split = SPLIT_CONDITION in judged.verdict.conditions
        if judged.verdict.fused is True or split:
            layers = {layer_of.get(n) for n in judged.site.core}  # {None}: removed whole (folded at build time)
            if split or len(layers) != 1:
                found.append(f"{judged.site.anchor}: {judged.verdict.reasons or sorted(map(str, layers))}")
    return found


def test_every_sample_is_audited() -> None:
    assert len(SAMPLES) >= 100  # samples/README.md: the committed exports


@pytest.mark.parametrize(("trt", "sm"), TARGETS)
def test_no_sample_has_a_fused_site_split_across_predicted_layers(trt: str, sm: str) -> None:
    failures = {}
    fused = 0
    for path in SAMPLES:
        result = audit(path, trt=trt, sm=sm, precision="fp16")
        fused += sum(j.verdict.fused is True for j in result.attention or ())
        found = _split_fused_sites(result)
        if found or result.prediction.split_sites:
            failures[str(path.relative_to(REPO))] = found or result.prediction.split_sites
    # the check has fused sites to check (BERT, GPT-2, Llama, ViT, ... in FP16; on SM100 only those whose mask is
    # 1-D or absent: the 2-D masks do not fuse there)
    assert fused >= 20
    assert not failures


def _split_by_rules(tmp: Path) -> AuditResult:
    """A plain FP16 attention (4 heads of 64, S = 128: fused on SM90) audited with rule data whose Myelin does not
    take the Softmax: Q·Kᵀ and P·V land in two regions with the Softmax between them, while the verdict, which
    reads the MHA tables only, is still 'fused'. The contradiction the audit must not hide."""
    rules = tmp / "rules"
    shutil.copytree(REPO / "rules", rules)
    fusions = rules / "fusions.toml"
    text = fusions.read_text()
    assert '"Softmax", ' in text
    fusions.write_text(text.replace('"Softmax", ', "", 1))
    onnx.save(attention_model(), tmp / "attention.onnx")
    return audit(tmp / "attention.onnx", trt="10.16", sm="90", precision="fp16", book=load_rulebook(rules))


def test_a_fused_site_split_across_layers_is_unknown_and_names_the_layers(tmp_path: Path) -> None:
    result = _split_by_rules(tmp_path)
    (judged,) = result.attention
    bmm1, softmax, bmm2 = judged.site.core
    layer_of = {n: layer.name for layer in result.prediction.layers for n in layer.nodes}
    assert len({layer_of[bmm1], layer_of[softmax], layer_of[bmm2]}) == 3
    site = result.contract_fields()["attention"][0]
    assert site["fused"] is None  # not a fused kernel with full confidence
    assert site["conditions"] == [SPLIT_CONDITION]
    (reason,) = site["reasons"]
    assert all(f"'{layer_of[n]}'" in reason for n in (bmm1, softmax, bmm2))
    (finding,) = [f for f in result.findings if f.condition == SPLIT_CONDITION]
    assert finding.rule == "TRT302" and judged.site.anchor in finding.message
    assert result.prediction.split_sites == {softmax: (layer_of[bmm1], layer_of[softmax], layer_of[bmm2])}


def test_the_same_site_in_one_layer_is_fused(tmp_path: Path) -> None:
    onnx.save(attention_model(), tmp_path / "attention.onnx")
    result = audit(tmp_path / "attention.onnx", trt="10.16", sm="90", precision="fp16")
    (judged,) = result.attention
    assert judged.verdict.fused is True and not result.prediction.split_sites
    assert not _split_fused_sites(result)


@pytest.mark.parametrize("sm", ["80", "86"])
def test_an_int8_site_judged_fused_is_one_layer(tmp_path: Path, sm: str) -> None:
    # Q/DQ on Q, K, V and the probabilities, H = 64, S = 512: inside the INT8 columns of SM80 and SM86 (rules/
    # attention.toml [mha], REF: Multi-Head Attention Fusion), so one fused MHA kernel. The Q/DQ fusion had given
    # each product its DequantizeLinear (two multi-node gemm layers), which the MHA tag could not join: the site
    # was judged fused and predicted as five layers.
    onnx.save(attention_model(qdq="int8", head=64, seq_q=512), tmp_path / "int8.onnx")
    result = audit(tmp_path / "int8.onnx", trt="10.16", sm=sm, precision="int8")
    (judged,) = result.attention
    assert judged.verdict.fused is True and not _split_fused_sites(result)
    (layer,) = [layer for layer in result.prediction.layers if set(judged.site.core) <= set(layer.nodes)]
    assert "mha" in layer.fusions
