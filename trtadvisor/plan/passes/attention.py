"""Plan passes for attention sites and normalizations: tag the layers TensorRT fuses.

Detection is pure and lives in ``attention_sites.py`` and ``normalization.py``; the verdict per
target in ``mha_rules.py``. A site the target fuses becomes (or is tagged inside) one layer with
the fusion id ``mha``; a LayerNorm / RMSNorm becomes one ``normalization`` layer tagged
``layernorm`` / ``rmsnorm`` (inside a Myelin region it is only tagged).
"""

from __future__ import annotations

from trtadvisor.analysis.attention_sites import attention_site_cores, attention_site_nodes, find_attention_sites
from trtadvisor.analysis.mha_rules import MhaRules, judge_sites
from trtadvisor.analysis.normalization import find_normalizations
from trtadvisor.ir.graph import Node
from trtadvisor.plan.context import Group, PlanContext


def tag_attention(ctx: PlanContext) -> None:
    """Find attention sites and tag the layers that hold them with 'mha' where the target fuses them."""
    rules = MhaRules.from_book(ctx.book)
    verdicts = judge_sites(ctx.graph, ctx.target, rules)
    for site_nodes, verdict in zip(attention_site_nodes(ctx.graph), verdicts, strict=True):
        if verdict.fused is not True:
            continue
        nodes = [n for n in site_nodes if ctx.group(n) is not None]
        if nodes and ctx.fuse_nodes(nodes, "mha", kind="attention") is None:
            _merge_classic_layers(ctx, nodes)


def _merge_classic_layers(ctx: PlanContext, nodes: list[Node]) -> None:
    """A fused site whose nodes earlier fusions put in several multi-node layers (an INT8 site: each product
    took its Q/DQ, DequantizeLinear + MatMul): the fused MHA kernel takes the products with their Q/DQ (the INT8
    pattern of rules/attention.toml [mha]), so the layers become one. Myelin regions are left as they are: a
    region cut through a site is the contradiction split_fused_sites reports, not one to paper over."""
    groups: list[Group] = []
    for node in nodes:
        group = ctx.group(node)
        if group is not None and group not in groups:  # Group has no __eq__: an identity test
            groups.append(group)
    if any(g.kind == "myelin" for g in groups):
        return
    base = groups[0]
    for other in groups[1:]:
        ctx.merge(base, other, None)
    base.add_fusion("mha")
    base.kind = "attention"
    ctx.instances.append(("mha", tuple(nodes)))


def split_fused_sites(ctx: PlanContext) -> dict[str, tuple[str, ...]]:
    """The sites judged fused whose BMM1, Softmax and BMM2 the finished plan put in more than one layer: the
    site's anchor -> the layer holding each of them (in that order; '' for a removed node). A site removed whole
    (folded at build time) is not split.

    A fused MHA is one kernel, so the verdict and the plan contradict each other there (a pass that cut the
    site, or a verdict that should not be a yes); the advice lowers the verdict to unknown. Three owner
    look-ups per fused site: no walk of the graph.
    """
    rules = MhaRules.from_book(ctx.book)
    verdicts = judge_sites(ctx.graph, ctx.target, rules)
    split: dict[str, tuple[str, ...]] = {}
    # (the core's Node objects, kept by the finder: no name index of each site's nodes to build)
    sites = zip(find_attention_sites(ctx.graph), attention_site_cores(ctx.graph), verdicts, strict=True)
    for site, core, verdict in sites:
        if verdict.fused is not True or len(core) < 2:
            continue
        groups = [ctx.group(node) for node in core]
        first = groups[0]
        # every node removed: the build folds the whole site (constant operands, DETR's first decoder layer)
        if any(g is not first for g in groups):
            split[site.anchor] = tuple("" if g is None else g.name for g in groups)
    return split


def fuse_normalizations(ctx: PlanContext) -> None:
    """LayerNormalization / RMSNorm, native and decomposed: one layer tagged 'layernorm' or 'rmsnorm'."""
    for site in find_normalizations(ctx.graph):
        nodes = [n for n in site.nodes if ctx.group(n) is not None]
        if nodes:
            ctx.fuse_nodes(nodes, site.kind, kind="normalization")
