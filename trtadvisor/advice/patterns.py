"""Every recognised pattern instance, for the JSON contract's ``patterns`` list.

``{"pattern", "nodes", "layer"}`` per instance: GELU from the plan's pattern fusions (one per fused
GELU, even inside a Myelin region that holds many), LayerNorm and RMSNorm (native or decomposed), and
the activation patterns (SiLU, HardSwish, SwiGLU, GeGLU, rotary embeddings). ``layer`` names the
predicted layer that runs the pattern's first node (null when that node was eliminated).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from operator import attrgetter

from trtadvisor.analysis.activations import PatternSite
from trtadvisor.analysis.normalization import find_normalizations
from trtadvisor.ir.graph import Graph
from trtadvisor.plan.context import Prediction

PLAN_PATTERNS = frozenset({"gelu"})  # pattern fusions recorded by the plan (fuse_nodes)
_name_of = attrgetter("name")


def pattern_instances(graphs: Iterable[Graph], prediction: Prediction,
                      activations: Sequence[PatternSite]) -> list[dict[str, object]]:
    found: list[tuple[str, tuple[str, ...]]] = [
        (fusion, tuple(map(_name_of, nodes))) for fusion, nodes in prediction.instances if fusion in PLAN_PATTERNS]
    for graph in graphs:
        found.extend((site.kind, tuple(map(_name_of, site.nodes))) for site in find_normalizations(graph))
    found.extend((site.kind, tuple(site.nodes)) for site in activations)
    if not found:
        return []
    wanted = {nodes[0] for _, nodes in found if nodes}
    layer_of: dict[str, str] = {}
    isdisjoint = wanted.isdisjoint
    for layer in prediction.layers:
        if not isdisjoint(layer.nodes):  # most layers run no pattern's first node: asked in C
            layer_of.update(dict.fromkeys(wanted.intersection(layer.nodes), layer.name))
    return [{"pattern": kind, "nodes": list(nodes), "layer": layer_of.get(nodes[0]) if nodes else None}
            for kind, nodes in found]
