"""Attention verdicts per target, normalization advice and the attention table of the report.

Contract v1 (``attention``, from AuditResult.attention), one entry per site:
``{"nodes", "kind", "num_heads", "num_kv_heads", "head_size", "seq_q", "seq_kv", "causal", "mask",
"fused", "reasons"}``; ``fused`` is null where the rules do not know the target or a fact, or where the
tables let a site fuse but the predicted plan splits it across layers; ``reasons`` is empty when ``fused`` is
true. The report builds its tables from them (report/).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import TYPE_CHECKING

from trtadvisor.advice.notes import AdviceNotes, JudgedSite
from trtadvisor.advice.patterns import pattern_instances
from trtadvisor.analysis.activations import PatternSite, find_patterns
from trtadvisor.analysis.attention_sites import AttentionSite, find_attention_sites
from trtadvisor.analysis.mha_rules import SPLIT_CONDITION, MhaRules, Verdict, judge_sites, split_verdict
from trtadvisor.analysis.normalization import find_normalizations
from trtadvisor.ir.graph import Graph, node_index
from trtadvisor.ir.load import LoadedModel
from trtadvisor.knowledge.conditions import Failed, condition_finding
from trtadvisor.knowledge.findings import Finding, finding_for
from trtadvisor.knowledge.rulebook import RuleBook
from trtadvisor.knowledge.target import Target
from trtadvisor.plan.context import Prediction

if TYPE_CHECKING:
    pass

_FILE = "attention.toml"  # the rule data of these findings


def attention_findings(model: LoadedModel, target: Target, book: RuleBook, prediction: Prediction,
                       notes: AdviceNotes) -> list[Finding]:
    rules = MhaRules.from_book(book)
    judged: list[JudgedSite] = []
    findings: list[Finding] = []
    patterns: list[PatternSite] = []
    for graph in model.graph.walk():
        verdicts = judge_sites(graph, target, rules)
        if prediction.split_sites:
            verdicts = _checked_against_plan(find_attention_sites(graph), verdicts, prediction, target, rules)
        judged.extend(map(JudgedSite, find_attention_sites(graph), verdicts))
        findings.extend(_normalization_findings(graph, target, book))
        patterns.extend(find_patterns(graph, _gelu_outputs(graph, prediction)))
    if judged:  # a model without attention gets no attention section
        notes.attention = tuple(judged)
    findings.extend(_site_findings(judged, target, book, rules))
    if patterns:
        findings.append(_pattern_finding(patterns, book))
    instances = pattern_instances(model.graph.walk(), prediction, patterns)
    if instances:
        notes.patterns = instances
    return findings


def _checked_against_plan(sites: list[AttentionSite], verdicts: list[Verdict], prediction: Prediction,
                          target: Target, rules: MhaRules) -> list[Verdict]:
    """The verdicts, each fused one whose site the plan split across layers made unknown (mha_rules.split_verdict):
    the audit does not claim one fused kernel where it predicts two layers."""
    split = prediction.split_sites
    return [split_verdict(v, split[s.anchor], target.sm, rules) if v.fused is True and s.anchor in split else v
            for s, v in zip(sites, verdicts, strict=True)]


def _gelu_outputs(graph: Graph, prediction: Prediction) -> frozenset[str]:
    """Every GELU's output: a Gelu node's, and the last node's of each decomposed GELU the plan fused (the erf
    or tanh form the TorchScript exporter writes at opset 17, as Gemma's gelu_pytorch_tanh), so that a GELU
    gate times an up projection is a GeGLU whichever way the exporter wrote the GELU."""
    found = {n.outputs[0] for n in graph.nodes_of("Gelu") if n.outputs}
    for fusion, nodes in prediction.instances:  # the plan's instances hold their nodes: no lookup by name
        if fusion == "gelu" and len(nodes) > 1:
            last = max(nodes, key=node_index)
            if last.graph is graph and last.outputs:  # the instances of every graph: this one's
                found.add(last.outputs[0])
    return frozenset(found)


def _site_label(site: AttentionSite) -> str:
    dims = f"N_q={_d(site.num_heads)}, N_kv={_d(site.num_kv_heads)}, H={_d(site.head_size)}, " \
           f"S_q={_d(site.seq_q)}, S_kv={_d(site.seq_kv)}"
    op = "Attention op" if site.native else "attention"
    return f"{site.kind.upper()} {op} at {site.anchor} ({dims})"


def _d(value: int | None) -> str:
    return "?" if value is None else str(value)


def _site_findings(judged: list[JudgedSite], target: Target, book: RuleBook, rules: MhaRules) -> list[Finding]:
    out: list[Finding] = []
    where = f"TensorRT {target.trt}, SM {target.sm}, {target.precision.upper()}"
    unknown_target = [j for j in judged if j.verdict.unknown_target]
    if unknown_target:
        out.append(finding_for(book, "TRT302", f"{len(unknown_target)} attention site(s): fusion unknown on "
                               f"{where}: {unknown_target[0].verdict.reasons[0]}",
                               (j.site.anchor for j in unknown_target)))
    native_old = [j for j in judged if j.site.native and not target.trt_at_least(rules.iattention_since)]
    if native_old:
        out.append(condition_finding(book, _FILE, "TRT304", Failed.of(
            "native_before_iattention", count=len(native_old), trt=target.trt, since=rules.iattention_since),
            (j.site.anchor for j in native_old)))
    for j in judged:
        site, verdict = j.site, j.verdict
        if verdict.fused is False and j not in native_old:
            code = "TRT305" if site.native else "TRT301"
            out.append(finding_for(book, code, f"{_site_label(site)} will not be fused on {where}: "
                                   + "; ".join(verdict.reasons), site.nodes, "; ".join(verdict.fixes)))
        elif verdict.fused is None and not verdict.unknown_target:
            finding = finding_for(book, "TRT302", f"{_site_label(site)}: fusion unknown on {where}: "
                                  + "; ".join(verdict.reasons), site.nodes, "; ".join(verdict.fixes))
            if SPLIT_CONDITION in verdict.conditions:  # the audit's own contradiction, named for tools to find
                finding = replace(finding, condition=SPLIT_CONDITION)
            out.append(finding)
        if site.repeated_kv and site.num_kv_heads is not None and site.num_kv_heads != site.kv_heads_seen:
            out.append(condition_finding(book, _FILE, "TRT303", Failed.of(
                "kv_heads_repeated", site=_site_label(site), kv_heads=site.num_kv_heads, seen=site.kv_heads_seen,
                nodes=", ".join(site.repeat_nodes[:4])), site.repeat_nodes))
    return out


def _normalization_findings(graph, target: Target, book: RuleBook) -> list[Finding]:
    if target.precision not in ("fp16", "best"):
        return []
    decomposed = [s for s in find_normalizations(graph) if s.kind == "layernorm" and not s.native]
    if not decomposed:
        return []
    names = (n for s in decomposed for n in s.names)
    return [condition_finding(book, _FILE, "TRT306", Failed.of(
        "decomposed_in_reduced_precision", count=len(decomposed), precision=target.precision.upper()), names)]


def _pattern_finding(patterns: list[PatternSite], book: RuleBook) -> Finding:
    counts = Counter(p.kind for p in patterns)
    text = ", ".join(f"{kind} x{n}" for kind, n in sorted(counts.items()))
    return finding_for(book, "TRT307", f"recognised patterns: {text}", (n for p in patterns[:20] for n in p.nodes))


def _d_str(value: str | None) -> str:
    return "?" if value is None else value
