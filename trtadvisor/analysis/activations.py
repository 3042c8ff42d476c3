"""Activation and position patterns around attention: SiLU/Swish, HardSwish, SwiGLU/GeGLU, rotary.

TensorRT has no fusion id of its own for these (they fuse as pointwise or inside Myelin), so they are
reported, not planned. Each is recognised from one anchor node and a fixed number of neighbours; a HardSwish
written out (x * relu6(x + 3) / 6) by what those neighbours compute (analysis/evaluate.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from trtadvisor.analysis.evaluate import EVALUABLE_OPS, SAMPLES, close, evaluate, hardswish
from trtadvisor.ir.graph import Graph, Node, node_index

# The ops a pattern is recognised from (the rest of the graph is never visited).
_ANCHOR_OPS = ("Swish", "HardSwish", "Sigmoid", "HardSigmoid", "Concat")


@dataclass(frozen=True)
class PatternSite:
    kind: str                  # silu | hardswish | swiglu | geglu | rotary
    nodes: tuple[str, ...]


def _skip_casts_back(graph: Graph, tensor: str) -> str:
    for _ in range(3):
        node = graph.producer(tensor)
        if node is None or node.op != "Cast":
            break
        tensor = node.inputs[0]
    return tensor


def find_patterns(graph: Graph, gelu_outputs: frozenset[str] = frozenset()) -> list[PatternSite]:
    """SiLU, HardSwish, gated FFNs (SwiGLU, GeGLU when ``gelu_outputs`` names GELU results) and rotary."""
    found: list[PatternSite] = []
    silu_outputs: dict[str, Node] = {}
    for node in graph.nodes_of(*_ANCHOR_OPS):
        if node.op in ("Swish", "HardSwish"):
            kind = "silu" if node.op == "Swish" else "hardswish"
            found.append(PatternSite(kind, (node.name,)))
            if kind == "silu":
                silu_outputs[node.outputs[0]] = node
        elif node.op in ("Sigmoid", "HardSigmoid") and node.inputs:
            mul = _gate_product(graph, node)
            if mul is not None:
                hard = node.op == "HardSigmoid" and abs(node.attr("alpha", 0.2) - 1 / 6) < 1e-3
                if node.op == "Sigmoid" or hard:
                    kind = "silu" if node.op == "Sigmoid" else "hardswish"
                    found.append(PatternSite(kind, (node.name, mul.name)))
                    if kind == "silu":
                        silu_outputs[mul.outputs[0]] = mul
        elif node.op == "Concat" and _is_rotate_half(graph, node):
            found.append(PatternSite("rotary", (node.name,)))
    found.extend(_written_out_hardswishes(graph))
    for out, producer in silu_outputs.items():
        gate = _gated_by_activation(graph, out)
        if gate is not None:
            found.append(PatternSite("swiglu", (producer.name, gate.name)))
    for out in sorted(gelu_outputs, key=lambda name: _graph_position(graph, name)):  # a set: graph order
        gate = _gated_by_activation(graph, out)
        if gate is not None:
            found.append(PatternSite("geglu", (gate.name,)))
    return found


def _graph_position(graph: Graph, tensor: str) -> tuple[int, str]:
    producer = graph.producer(tensor)
    return (-1 if producer is None else producer.index, tensor)


# How far a written-out HardSwish reaches on each side of its Clip: x + 3 before it, then the product with x
# and the division by 6 (or a Mul by 1/6) after it, in either order.
_HARDSWISH_BEFORE = 2
_HARDSWISH_AFTER = 3
# Exporters write 1/6 as 0.16666667 or divide by 6.0: the match is on values, to float32 precision.
_HARDSWISH_TOLERANCE = 1e-3
_HARDSWISH_ON_SAMPLES = hardswish(SAMPLES)


def _written_out_hardswishes(graph: Graph) -> list[PatternSite]:
    """HardSwish as arithmetic around a Clip (relu6 or hardtanh of x + 3): timm's ``hard_swish``,
    YOLOv5's export-friendly ``Hardswish``, Keras' ``hard_swish``. Whatever the op order or the spelling of
    the constants, the nodes are one when they compute x * clip(x / 6 + 1/2, 0, 1) for sample values of x."""
    found: list[PatternSite] = []
    for clip in graph.nodes_of("Clip"):
        site = _hardswish_at(graph, clip)
        if site is not None:
            found.append(site)
    return found


def _hardswish_at(graph: Graph, clip: Node) -> PatternSite | None:
    if not clip.inputs or not clip.outputs:
        return None
    after = _evaluable_readers(graph, clip)
    if not after:
        return None
    before: list[Node] = []
    tensor = clip.inputs[0]
    for _ in range(_HARDSWISH_BEFORE):  # the source is shifted (x + 3), never the Clip's own input
        producer = graph.producer(tensor)
        data = [i for i in producer.inputs if i and graph.scalar(i) is None] if producer is not None else []
        if producer is None or producer.op not in EVALUABLE_OPS or len(data) != 1:
            return None
        before.insert(0, producer)
        tensor = data[0]
        nodes = sorted([*before, clip, *after], key=node_index)
        values = evaluate(graph, nodes, tensor)
        for node in after:
            result = values.get(node.outputs[0]) if node.outputs else None
            if result is not None and close(result, _HARDSWISH_ON_SAMPLES, _HARDSWISH_TOLERANCE):
                return PatternSite("hardswish", tuple(n.name for n in _feeding(nodes, node)))
    return None


def _evaluable_readers(graph: Graph, start: Node) -> list[Node]:
    """Evaluable nodes reading ``start``'s output, then theirs, up to _HARDSWISH_AFTER of them, in graph order."""
    found: list[Node] = []
    frontier = [start]
    while frontier and len(found) < _HARDSWISH_AFTER:
        nxt: list[Node] = []
        for node in frontier:
            for name in node.outputs[:1]:
                for reader in graph.consumers(name):
                    if reader.op in EVALUABLE_OPS and reader not in found and len(found) < _HARDSWISH_AFTER:
                        found.append(reader)
                        nxt.append(reader)
        frontier = nxt
    return sorted(found, key=node_index)


def _feeding(nodes: list[Node], end: Node) -> list[Node]:
    """``end`` and the nodes of ``nodes`` its value is computed from, in graph order."""
    by_output = {n.outputs[0]: n for n in nodes if n.outputs}
    kept: set[Node] = set()
    stack = [end]
    while stack:
        node = stack.pop()
        if node in kept:
            continue
        kept.add(node)
        stack.extend(by_output[i] for i in node.inputs if i in by_output)
    return sorted(kept, key=node_index)


def _gate_product(graph: Graph, gate: Node) -> Node | None:
    """The Mul computing x * sigmoid(x) (either operand order, Casts allowed)."""
    x = _skip_casts_back(graph, gate.inputs[0])
    for reader in graph.consumers(gate.outputs[0]):
        if reader.op == "Mul" and len(reader.inputs) == 2:
            other = reader.inputs[1] if reader.inputs[0] == gate.outputs[0] else reader.inputs[0]
            if _skip_casts_back(graph, other) == x:
                return reader
    return None


def _gated_by_activation(graph: Graph, tensor: str) -> Node | None:
    """A Mul of an activation's output with another activation (the up projection): a GLU."""
    for reader in graph.consumers(tensor):
        if reader.op != "Mul" or len(reader.inputs) != 2:
            continue
        other = reader.inputs[1] if reader.inputs[0] == tensor else reader.inputs[0]
        if other and not graph.is_weight(other) and _is_projection(graph, other):
            return reader
    return None


def _is_projection(graph: Graph, tensor: str) -> bool:
    """A learned projection's output (the up branch of a GLU): a matrix product, through its bias Add and the
    Reshape, Slice or Split that cut one fused gate/up projection in halves (Phi-3's gate_up_proj). A sum of two
    computed tensors is no projection: Mamba gates its selective scan's output (y + D·x) with SiLU(z), a SiLU
    gate that is no GLU."""
    for _ in range(4):
        producer = graph.producer(_skip_casts_back(graph, tensor))
        if producer is None or not producer.inputs:
            return False
        if producer.op in ("MatMul", "Gemm"):
            return True
        if producer.op == "Add":  # the bias may be a deduplicated initializer behind an Identity
            computed = [i for i in producer.inputs if i and not graph.is_weight(i)]
            if len(computed) != 1:
                return False
            tensor = computed[0]
        elif producer.op in ("Reshape", "Slice", "Split"):
            tensor = producer.inputs[0]
        else:
            return False
    return False


def _is_rotate_half(graph: Graph, concat: Node) -> bool:
    """Concat(-x2, x1) where x1, x2 are the two halves of one tensor's last axis (Llama rotate_half)."""
    parts = [i for i in concat.inputs if i]
    if len(parts) != 2:
        return False
    neg = graph.producer(parts[0])
    first = graph.producer(parts[1])
    if neg is None or neg.op != "Neg" or first is None or first.op not in ("Slice", "Split"):
        return False
    second = graph.producer(neg.inputs[0])
    if second is None or second.op not in ("Slice", "Split"):
        return False
    return second.inputs[0] == first.inputs[0]
