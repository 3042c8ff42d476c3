"""Parallel convolution branches summed over one input, which re-parameterization merges (rule TRT208).

RepVGG-, MobileOne- and ACNet-style blocks keep their training-time branches when exported as trained:
TensorRT builds every branch as a layer of its own, while the branches' sum is one convolution
(analysis/branches.py has the conditions). Evidence and source: rules/advice.toml [rule.TRT208].
"""

from __future__ import annotations

from trtadvisor.advice.notes import AdviceNotes
from trtadvisor.analysis.branches import summed_branches
from trtadvisor.errors import shown
from trtadvisor.ir.load import LoadedModel
from trtadvisor.knowledge.findings import Finding, finding_for
from trtadvisor.knowledge.rulebook import RuleBook
from trtadvisor.knowledge.target import Target
from trtadvisor.plan.context import Prediction


def reparam_findings(model: LoadedModel, target: Target, book: RuleBook, prediction: Prediction,
                     notes: AdviceNotes) -> list[Finding]:
    sites = summed_branches(model.graph)
    if not sites:
        return []
    layer_of = {name: i for i, layer in enumerate(prediction.layers) for name in layer.nodes}
    findings: list[Finding] = []
    for site in sites:
        names = [n.name for n in site.nodes]
        layers = {layer_of[n] for n in names if n in layer_of}
        if len(layers) < 2:
            continue  # already one layer: nothing to gain
        kernel = "x".join(map(str, site.kernel))
        findings.append(finding_for(
            book, "TRT208",
            f"{len(site.branches)} parallel branches over '{shown(site.source, 80)}' ({site.describe()}) are summed "
            f"by '{shown(site.root.name, 80)}': TensorRT builds them as {len(layers)} layers; their sum is one "
            f"{kernel} convolution",
            nodes=names))
    return findings
