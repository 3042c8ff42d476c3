"""Plan passes for attention sites and normalizations: tag the layers TensorRT fuses.

Detection is pure and lives in ``attention_sites.py`` and ``normalization.py``; the verdict per
target in ``mha_rules.py``. A site the target fuses becomes (or is tagged inside) one layer with
the fusion id ``mha``; a LayerNorm / RMSNorm becomes one ``normalization`` layer tagged
``layernorm`` / ``rmsnorm`` (inside a Myelin region it is only tagged).
"""

from __future__ import annotations

from trtadvisor.analysis.attention_sites import attention_site_nodes
from trtadvisor.analysis.mha_rules import MhaRules, judge_sites
from trtadvisor.analysis.normalization import find_normalizations
from trtadvisor.plan.context import PlanContext


def tag_attention(ctx: PlanContext) -> None:
    """Find attention sites and tag the layers that hold them with 'mha' where the target fuses them."""
    rules = MhaRules.from_book(ctx.book)
    verdicts = judge_sites(ctx.graph, ctx.target, rules)
    for site_nodes, verdict in zip(attention_site_nodes(ctx.graph), verdicts, strict=True):
        if verdict.fused is not True:
            continue
        nodes = [n for n in site_nodes if ctx.group(n) is not None]
        if nodes:
            ctx.fuse_nodes(nodes, "mha", kind="attention")


def fuse_normalizations(ctx: PlanContext) -> None:
    """LayerNormalization / RMSNorm, native and decomposed: one layer tagged 'layernorm' or 'rmsnorm'."""
    for site in find_normalizations(ctx.graph):
        nodes = [n for n in site.nodes if ctx.group(n) is not None]
        if nodes:
            ctx.fuse_nodes(nodes, site.kind, kind="normalization")
