"""Attention whose scores are more than Q·Kᵀ and pointwise ops: the wide walks of attention_sites.

Between BMM1 and the Softmax, and between the Softmax and BMM2, TensorRT's MHA fusion takes pointwise ops
only (REF "Multi-Head Attention Fusion": softmax(Q·Kᵀ/scale ⊗ mask)·V). Models put more there:

* a mix across the heads (CaiT's talking heads, DeepViT's re-attention): a learned linear map of the scores
  before the Softmax or of the probabilities after it, exported as a Linear over a transposed tensor (a MatMul
  by an [N, N] weight and its bias Add), an Einsum with a weight or a 1x1 Conv over the heads, and a norm
  across the heads (LayerNormalization over the head axis, a BatchNormalization after the Conv);
* chunked or banded attention (Longformer's sliding chunks): products over overlapping chunks whose scores
  are padded, sliced, reshaped and scattered into a band before the Softmax, and whose probabilities are laid
  back out into chunks before BMM2;
* a mask written as an indexed assignment (Longformer's global attention): a scatter of a constant into the
  scores in place, which moves nothing;
* probabilities combined with another tensor between the Softmax and BMM2 (ConViT's gated positional
  self-attention: (1 - g)·softmax(Q·Kᵀ) + g·softmax(positional map), renormalized by its sum over the keys):
  pointwise ops of the probabilities and a gate, a second map or their own sum (``combination``).

These walks run only from a Softmax the plain walks found no site for, a bounded number of steps each.
The axes of the scores are followed through transposes and reshapes by role ('k' the keys, 'q' the queries,
'n' the heads, '?' any other) so that a product over the heads is told from one over the keys, and a
Softmax or BMM2 that does not work over the keys is no site.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from trtadvisor.analysis.values import Dims, GraphValues
from trtadvisor.ir.graph import Graph, Node

# Ops that move score entries without computing on them (the scores are the first input, or the updates
# of a scatter): a chunked attention's band is built with these.
MOVE_OPS = frozenset({"Pad", "Slice", "ScatterND", "ScatterElements", "Gather", "GatherElements", "Expand",
                      "Tile", "Concat", "Split"})
# Ops that relabel the axes only (followed by role; a reshape that cuts the query or key axis moves entries).
_RELAYOUT = frozenset({"Transpose", "Reshape", "Squeeze", "Unsqueeze", "Flatten"})
# Pointwise ops that combine the probabilities with another tensor (a gate, a second map, their own sum).
COMBINE_OPS = frozenset({"Add", "Sub", "Mul", "Div"})
# Ops a sum over the keys passes on its way to the Div that renormalizes (keepdim written as an Unsqueeze).
_SUM_ROUTE = frozenset({"Unsqueeze", "Reshape", "Cast", "Identity", "Expand"})
# BFS levels of the wide backward walk (half of them forward): Longformer's band is 14 ops from its product.
WIDE_STEPS = 24


def weight_product_input(graph: Graph, node: Node) -> int | None:
    """The index of the one activation operand of a MatMul or two-operand Einsum by a weight (a Linear
    applied to the scores), or of a 1x1 convolution by a weight (a mix over its channel axis, as the DeepViT
    authors' re-attention mixes the heads with a Conv2d(heads, heads, 1)); None for any other node."""
    if node.op == "Conv":
        shape = graph.shape(node.input(1)) if len(node.inputs) >= 2 else None
        one_by_one = shape is not None and len(shape) >= 3 and all(d == 1 for d in shape[2:])
        return 0 if one_by_one and node.attr("group", 1) == 1 and graph.is_weight(node.inputs[1]) else None
    if node.op not in ("MatMul", "Einsum") or len(node.inputs) != 2:
        return None
    weights = [graph.is_weight(i) for i in node.inputs]
    if weights.count(True) != 1:
        return None
    return weights.index(False)


def wide_inputs(graph: Graph, node: Node) -> list[str]:
    """The inputs through which scores flow into ``node`` for the wide backward walk (none: it stops)."""
    op = node.op
    if op in ("ScatterND", "ScatterElements"):  # the data and the updates scattered into it
        return [node.inputs[0], node.input(2)] if len(node.inputs) >= 3 else []
    if op == "Concat":
        return list(node.inputs)
    if op in _RELAYOUT or op in MOVE_OPS or op in ("BatchNormalization", "LayerNormalization"):  # (head norms)
        return node.inputs[:1]
    index = weight_product_input(graph, node)
    return [node.inputs[index]] if index is not None else []


def _einsum_letters(node: Node) -> tuple[list[str], str] | None:
    equation = node.attr("equation")
    if not isinstance(equation, str) or "->" not in equation or "." in equation:
        return None
    lhs, out = equation.replace(" ", "").split("->")
    return lhs.split(","), out


def product_roles(node: Node, dims: Dims | None) -> list[str] | None:
    """The roles of BMM1's output axes: [.., heads, queries, keys] (an Einsum's by its output letters)."""
    if node.op == "Einsum":
        letters = _einsum_letters(node)
        rank = len(letters[1]) if letters is not None else None
    else:
        rank = len(dims) if dims is not None else None
    if rank is None or rank < 2:
        return None
    return (["?"] * rank + ["n", "q", "k"])[-rank:]


def _reshaped(roles: list[str], before: Dims | None, after: Dims | None) -> list[str] | None:
    """Roles after a reshape: the trailing axes it keeps keep theirs, the others become '?'. One unknown size on
    each side with the known sizes multiplying to the same is one size (Longformer's [B*N, G, S] viewed as
    [B, N, G, S], G the number of global tokens)."""
    if before is None or after is None or len(before) != len(roles):
        return None
    same: object = object()
    if before.count(None) == 1 and after.count(None) == 1 and \
            math.prod(d for d in before if d is not None) == math.prod(d for d in after if d is not None):
        before, after = tuple(same if d is None else d for d in before), tuple(same if d is None else d for d in after)
    out = ["?"] * len(after)
    for i in range(1, min(len(before), len(after)) + 1):
        if before[-i] is None or before[-i] != after[-i]:
            break
        out[-i] = roles[-i]
    return out


@dataclass
class Track:
    """What following the score axes along a path found."""

    roles: list[str] | None
    mixing: list[Node] = field(default_factory=list)   # maps and norms across the heads, with their biases
    moved: list[Node] = field(default_factory=list)    # ops that move score entries (a band, chunks)
    scattered: list[Node] = field(default_factory=list)  # scatters of constants into the scores (a mask)
    ok: bool = True                                    # False: a map or norm over another axis, no site

    def lost_axis(self, role: str) -> bool:
        return self.roles is not None and role not in self.roles


def track(graph: Graph, values: GraphValues, roles: list[str] | None, steps: list[tuple[Node, str]],
          filled: Callable[[str], bool], found: Track | None = None) -> Track:
    """Follow the roles of the score axes through ``steps`` ((node, the input that carries the scores), in
    the order the data flows). ``filled`` tells a constant or filled tensor (a scatter's masking updates)."""
    result = found or Track(roles)
    result.roles = roles
    previous: Node | None = None
    for node, tensor in steps:
        op = node.op
        index = weight_product_input(graph, node)
        if index is not None:
            role = _contracted_role(node, index, result.roles)
            if role != "n":
                result.ok = False  # a linear map over the keys or queries: not attention as found here
                return result
            result.mixing.append(node)
            result.roles = _product_out_roles(node, index, result.roles)
        elif previous is not None and previous in result.mixing and (op == "BatchNormalization" or (
                op == "Add" and any(i != tensor and graph.is_weight(i) for i in node.inputs))):
            result.mixing.append(node)  # the head mix's bias, or the norm of its mixed heads (DeepViT)
        elif op == "LayerNormalization" and _normalizes_heads(node, result.roles):
            result.mixing.append(node)  # a norm across the heads mixes them too (DeepViT's re-attention)
        elif op in ("BatchNormalization", "LayerNormalization"):
            result.ok = False  # a norm of the scores over another axis, or after no head mix: not found here
            return result
        elif op == "Transpose":
            perm = node.attr("perm")
            roles_now = result.roles
            result.roles = [roles_now[p] for p in perm] if roles_now is not None and perm is not None and \
                sorted(perm) == list(range(len(roles_now))) else None
        elif op in _RELAYOUT:
            before = result.roles
            result.roles = _reshaped(before, values.dims(tensor), values.dims(node.outputs[0])) \
                if before is not None else None
            if result.roles is None or (("k" in before or "q" in before) and  # type: ignore[operator]
                                        (result.lost_axis("k") or result.lost_axis("q"))):
                result.moved.append(node)
                result.roles = None
        elif op in ("ScatterND", "ScatterElements") and node.inputs[0] == tensor and len(node.inputs) >= 3 and \
                filled(node.inputs[2]):
            result.scattered.append(node)  # entries set to a constant in place: a mask (Longformer's global rows)
        elif op in MOVE_OPS:
            result.moved.append(node)
            result.roles = None
        previous = node
    return result


def _normalizes_heads(node: Node, roles: list[str] | None) -> bool:
    """A LayerNormalization over the head axis alone."""
    if roles is None:
        return False
    axis = node.attr("axis", -1)
    return -len(roles) <= axis < len(roles) and roles[axis:] == ["n"]


def _contracted_role(node: Node, index: int, roles: list[str] | None) -> str | None:
    """The role of the axis of operand ``index`` that ``node`` sums over."""
    if roles is None:
        return None
    if node.op == "MatMul":
        axis = -1 if index == 0 else -2
        return roles[axis] if len(roles) >= 2 else None
    if node.op == "Conv":
        return roles[1] if len(roles) >= 3 else None  # NCHW: the channels
    letters = _einsum_letters(node)
    if letters is None or len(letters[0]) != 2:
        return None
    (a, b), out = letters[0], letters[1]
    mine, other = (a, b) if index == 0 else (b, a)
    summed = [c for c in mine if c in other and c not in out]
    if len(summed) != 1 or len(mine) != len(roles):
        return None
    return roles[mine.index(summed[0])]


def _product_out_roles(node: Node, index: int, roles: list[str] | None) -> list[str] | None:
    """Roles after a product by a weight over the heads: the mixed axis holds heads again."""
    if roles is None or node.op in ("MatMul", "Conv"):
        return roles
    letters = _einsum_letters(node)
    if letters is None:
        return None
    mine, out = letters[0][index], letters[1]
    by_letter = dict(zip(mine, roles, strict=False))
    return [by_letter.get(c, "n") for c in out]


def bmm2_contracts_keys(node: Node, index: int, result: Track) -> bool:
    """Whether BMM2 sums the probabilities (operand ``index``) over the keys; where the roles were lost
    (a band), whether entries were moved on the way (the chunked layout is then what BMM2 reads)."""
    if result.roles is None:
        return bool(result.moved)
    return _contracted_role(node, index, result.roles) == "k"


def combines(node: Node, tensor: str) -> bool:
    """Whether ``node`` is a pointwise op of the probabilities ``tensor`` with another tensor that the wide
    forward walk passes: a sum or product with either operand, a difference or quotient of the probabilities."""
    if node.op not in COMBINE_OPS or len(node.inputs) != 2 or node.inputs[0] == node.inputs[1]:
        return False
    return tensor in node.inputs if node.op in ("Add", "Mul") else node.inputs[0] == tensor


def combination(graph: Graph, values: GraphValues, node: Node, tensor: str) -> str:
    """What ``node`` (``combines``) does to the probabilities ``tensor``: 'renormalized' (divided by their own
    sum over the keys), 'scale' (by a constant scalar), 'gate' (by a factor that is one value over the queries
    and keys: per head or overall, learned or computed), 'map' (with a tensor over the queries and keys: a
    second probability map, as ConViT's positional one)."""
    other = node.inputs[1] if node.inputs[0] == tensor else node.inputs[0]
    if node.op == "Div" and _sum_of(graph, values, other, tensor):
        return "renormalized"
    dims = values.dims(other)
    if node.op in ("Mul", "Div"):
        value = values.value(other)
        if value is not None and value.size == 1:
            return "scale"
        if dims is not None and all(d == 1 for d in dims[-2:]):
            return "gate"
    return "map"


def _sum_of(graph: Graph, values: GraphValues, divisor: str, tensor: str) -> bool:
    """Whether ``divisor`` is ``tensor`` summed over its last axis (the keys), kept as an axis of 1."""
    for _ in range(4):
        node = graph.producer(divisor)
        if node is None or not node.inputs:
            return False
        if node.op == "ReduceSum":
            break
        if node.op not in _SUM_ROUTE:
            return False
        divisor = node.inputs[0]
    else:
        return False
    if node.inputs[0] != tensor:
        return False
    axes = values.value(node.inputs[1]) if len(node.inputs) >= 2 and node.inputs[1] else node.attr("axes")
    rank = values.dims(tensor)
    if axes is None or rank is None:
        return False
    return [int(a) % len(rank) for a in np.asarray(axes).ravel()] == [len(rank) - 1]
