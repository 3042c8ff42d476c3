"""Activation and position patterns around attention: SiLU/Swish, HardSwish, SwiGLU/GeGLU, rotary.

TensorRT has no fusion id of its own for these (they fuse as pointwise or inside Myelin), so they are
reported, not planned. Each is recognised from one anchor node and a fixed number of neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass

from trtadvisor.ir.graph import Graph, Node

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
        if other and not graph.is_constant(other) and _is_projection(graph, other):
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
        if producer.op == "Add":
            computed = [i for i in producer.inputs if i and not graph.is_constant(i)]
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
