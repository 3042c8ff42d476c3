"""LayerNorm and RMSNorm, as ops and as each exporter writes them out.

Decomposed LayerNorm:  mean = ReduceMean(x); d = x - mean; var = ReduceMean(d^2) (Pow by 2 or d*d);
                       y = d / Sqrt(var + eps) (or d * Reciprocal(...)); then optional Mul(gamma), Add(beta).
Decomposed RMSNorm:    ms = ReduceMean(x^2); r = 1 / Sqrt(ms + eps) (Div or Reciprocal) or x / Sqrt(...);
                       y = x * r; then optional Mul(weight).
Casts and Identities may sit anywhere (TorchScript keeps HF's fp32 upcasts and routes deduplicated
weights through Identity; FP16 exports cast constants such as the exponent); TensorRT sees through
both, and so does the match. Each match starts at a ReduceMean and
follows single readers a fixed number of steps, so finding all of them is linear in the graph.
"""

from __future__ import annotations

from dataclasses import dataclass

from trtadvisor.analysis.cache import memoized
from trtadvisor.ir.graph import Graph, Node, node_index

_MAX_STEPS = 14
_SEE_THROUGH = ("Cast", "Identity")  # value-preserving for matching: TensorRT removes or fuses them


def _behind(graph: Graph, tensor: str) -> str:
    """``tensor`` with Casts and Identities before it stepped over (x and Cast(x) are the same value)."""
    for _ in range(3):
        node = graph.producer(tensor)
        if node is None or node.op not in _SEE_THROUGH or not node.inputs:
            break
        tensor = node.inputs[0]
    return tensor


def _scalar(graph: Graph, tensor: str) -> float | None:
    """A single-value constant, also when it arrives through a Cast or Identity (FP16 exports)."""
    return graph.scalar(_behind(graph, tensor))


def _constant(graph: Graph, tensor: str) -> bool:
    return graph.is_constant(_behind(graph, tensor))


@dataclass(frozen=True)
class NormSite:
    kind: str                 # "layernorm" | "rmsnorm"
    native: bool              # LayerNormalization / RMSNormalization op
    nodes: tuple[Node, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n.name for n in self.nodes)


def find_normalizations(graph: Graph) -> list[NormSite]:
    """LayerNorm and RMSNorm sites, native and decomposed; pure in the graph, so computed once."""
    return list(memoized(graph, "normalizations", lambda: tuple(_find_normalizations(graph))))


def _find_normalizations(graph: Graph) -> list[NormSite]:
    sites: list[NormSite] = []
    used: set[Node] = set()
    # in graph order, as every node is: an earlier match keeps the ReduceMeans it took
    for node in graph.nodes_of("LayerNormalization", "RMSNormalization", "SimplifiedLayerNormalization", "ReduceMean"):
        if node in used:
            continue
        if node.op == "LayerNormalization":
            sites.append(NormSite("layernorm", True, (node,)))
        elif node.op in ("RMSNormalization", "SimplifiedLayerNormalization"):
            sites.append(NormSite("rmsnorm", True, (node,)))
        elif node.op == "ReduceMean":
            site = _layernorm_from_mean(graph, node) or _rmsnorm_from_mean(graph, node)
            if site is not None and not used.intersection(site.nodes):
                used.update(site.nodes)
                sites.append(site)
    return sites


class _Walk:
    """Follow single readers, stepping over Casts; remember the nodes passed."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.nodes: list[Node] = []

    def reader(self, tensor: str, ops: tuple[str, ...]) -> Node | None:
        for _ in range(3):
            readers = [r for r in self.graph.consumers(tensor) if r.op != "Shape"]
            match = [r for r in readers if r.op in ops]
            if match:
                self.nodes.append(match[0])
                return match[0]
            casts = [r for r in readers if r.op in _SEE_THROUGH]
            if len(readers) != 1 or not casts:
                return None
            self.nodes.append(casts[0])
            tensor = casts[0].outputs[0]
        return None

    def source(self, tensor: str) -> str:
        """``tensor`` with Casts and Identities before it stepped over."""
        return _behind(self.graph, tensor)


def _is_square(graph: Graph, node: Node, of: str, walk: _Walk) -> bool:
    if node.op == "Pow":
        value = _scalar(graph, node.inputs[1]) if len(node.inputs) > 1 else None
        return value == 2.0 and walk.source(node.inputs[0]) == walk.source(of)
    if node.op == "Mul":
        return len(node.inputs) == 2 and node.inputs[0] == node.inputs[1]
    return False


def _tail(walk: _Walk, start: Node, normalized_of: str) -> Node | None:
    """From the variance's ReduceMean: Add eps, Sqrt, then Div or Reciprocal/Mul back onto ``normalized_of``."""
    graph = walk.graph
    add = walk.reader(start.outputs[0], ("Add",))
    if add is None or not any(_constant(graph, i) for i in add.inputs):
        return None
    root = walk.reader(add.outputs[0], ("Sqrt",))
    if root is None:
        return None
    nxt = walk.reader(root.outputs[0], ("Div", "Reciprocal"))
    if nxt is None:
        return None
    if nxt.op == "Div" and walk.source(nxt.inputs[1]) == walk.source(root.outputs[0]):
        if walk.source(nxt.inputs[0]) == walk.source(normalized_of):
            return nxt                              # d / sqrt(var + eps)
        if _scalar(graph, nxt.inputs[0]) != 1.0:
            return None
    mul = walk.reader(nxt.outputs[0], ("Mul",))    # 1/sqrt(...) times the value
    if mul is None or not any(walk.source(i) == walk.source(normalized_of) for i in mul.inputs):
        return None
    return mul


def _affine(walk: _Walk, node: Node) -> None:
    """Optional elementwise weight and bias after the normalisation (constant operands only)."""
    graph = walk.graph
    current = node
    for op in ("Mul", "Add"):
        readers = graph.consumers(current.outputs[0])
        cast = None
        if len(readers) == 1 and readers[0].op in _SEE_THROUGH:
            cast = readers[0]
            readers = graph.consumers(cast.outputs[0])
        if len(readers) != 1 or readers[0].op != op or not any(_constant(graph, i) for i in readers[0].inputs):
            return
        if cast is not None:
            walk.nodes.append(cast)
        walk.nodes.append(readers[0])
        current = readers[0]


def _layernorm_from_mean(graph: Graph, mean: Node) -> NormSite | None:
    walk = _Walk(graph)
    x = walk.source(mean.inputs[0])
    sub = walk.reader(mean.outputs[0], ("Sub",))
    if sub is None or walk.source(sub.inputs[0]) != x or walk.source(sub.inputs[1]) != walk.source(mean.outputs[0]):
        return None
    d = sub.outputs[0]
    square = None
    for r in graph.consumers(d):
        if _is_square(graph, r, d, walk):
            square = r
            break
    if square is None:
        casts = [r for r in graph.consumers(d) if r.op in _SEE_THROUGH]
        for c in casts:
            square = next((r for r in graph.consumers(c.outputs[0]) if _is_square(graph, r, d, walk)), None)
            if square is not None:
                walk.nodes.append(c)
                break
    if square is None:
        return None
    walk.nodes.append(square)
    var = walk.reader(square.outputs[0], ("ReduceMean",))
    if var is None:
        return None
    end = _tail(walk, var, d)
    if end is None:
        return None
    _affine(walk, end)
    nodes = _ordered([mean, sub, *walk.nodes])
    return NormSite("layernorm", False, nodes)


def _rmsnorm_from_mean(graph: Graph, mean: Node) -> NormSite | None:
    walk = _Walk(graph)
    square = graph.producer(mean.inputs[0])
    if square is None or square.op not in ("Pow", "Mul"):
        return None
    x = walk.source(square.inputs[0])
    if not _is_square(graph, square, square.inputs[0], walk):
        return None
    producer = graph.producer(x)
    if producer is not None and producer.op == "Sub":      # that is a LayerNorm's centred value
        return None
    end = _tail(walk, mean, x)
    if end is None:
        return None
    _affine(walk, end)
    nodes = _ordered([square, mean, *walk.nodes])
    return NormSite("rmsnorm", False, nodes)


def _ordered(nodes: list[Node]) -> tuple[Node, ...]:
    return tuple(sorted(dict.fromkeys(nodes), key=node_index))
