"""Shuffle fusions: consecutive Transpose/Reshape layers, cancelling transposes, Shuffle + Reduce.

TensorRT's shuffle layer is (first transpose, reshape, second transpose). Two shuffles merge unless
both reshape and the first one's second transpose is not the inverse of the second one's first
transpose. Source: rules/fusions.toml [fusion."shuffle+shuffle"] and [fusion."shuffle+reduce"].
"""

from __future__ import annotations

from typing import NamedTuple

from trtadvisor.ir.graph import Node
from trtadvisor.plan.context import Blocked, Group, PlanContext

Perm = tuple[int, ...] | None  # None: identity of any rank


class ShuffleState(NamedTuple):
    """What one (possibly merged) shuffle layer does (a tuple: one is made per shuffle node)."""

    first: Perm
    reshapes: bool
    second: Perm


def _compose(p: Perm, q: Perm) -> Perm:
    """Transpose by p, then by q (ONNX semantics: out[i] = in[perm[i]])."""
    if p is None:
        return q
    if q is None:
        return p
    if len(p) != len(q):
        return q
    composed = tuple(p[i] for i in q)
    return None if _is_identity(composed) else composed


_IDENTITIES: dict[int, tuple[int, ...]] = {}  # rank -> (0, 1, ..., rank - 1), made once per rank


def _is_identity(p: Perm) -> bool:
    if p is None:
        return True
    identity = _IDENTITIES.get(len(p))
    if identity is None:
        identity = _IDENTITIES[len(p)] = tuple(range(len(p)))
    return p == identity


_RESHAPE_STATE = ShuffleState(first=None, reshapes=True, second=None)


def _state_of(node: Node) -> ShuffleState:
    if node.op == "Transpose":
        perm = node.attr("perm")
        first = None if perm is None else tuple(perm)
        # (positional arguments: a NamedTuple is built faster so, and this runs per shuffle node)
        return ShuffleState(None if first is None or _is_identity(first) else first, False, None)
    return _RESHAPE_STATE


def _merge_states(a: ShuffleState, b: ShuffleState) -> ShuffleState | None:
    """The shuffle ``a`` then ``b`` as one (first, reshapes, second), or None where the two cannot be one."""
    if not a.reshapes:
        return ShuffleState(_compose(_compose(a.first, a.second), b.first), b.reshapes, b.second)
    if not b.reshapes:
        return ShuffleState(a.first, True, _compose(a.second, _compose(b.first, b.second)))
    if _is_identity(_compose(a.second, b.first)):
        return ShuffleState(a.first, True, b.second)
    return None


def fuse_shuffles(ctx: PlanContext) -> None:
    graph = ctx.graph
    owner, readers_of, eliminated = ctx.owner, graph.readers, ctx.eliminated
    is_output = graph.is_graph_output
    shuffle_ops = frozenset(ctx.book.fusion("shuffle+shuffle").ops)
    for node in graph.nodes_of(*shuffle_ops):
        group = owner.get(node)
        if group is None or group.nodes[0] is not node:
            continue  # removed, or merged into the chain of an earlier shuffle
        state = _state_of(node)  # the chain starts here: no state of it yet
        while True:
            tail = group.nodes[-1]
            out = tail.outputs[0]
            # The sole live reader of the chain's output (ctx.sole_reader, with lookups bound once).
            if is_output(out):
                break
            readers = readers_of.get(out, ())
            if len(readers) == 1:
                reader = readers[0]  # the common case: no list of the live ones to build
                if reader in eliminated:
                    break
            else:
                live = [r for r in readers if r not in eliminated]
                if len(live) != 1:
                    break
                reader = live[0]
            if reader.op not in shuffle_ops:
                break
            other = owner.get(reader)
            if other is None:
                break
            if len(other.nodes) > 1 or reader.inputs[0] != out:
                break
            merged = _merge_states(state, _state_of(reader))
            if merged is None:
                ctx.near_miss([tail, reader], Blocked(
                    "shuffle+shuffle", "transpose_undone",
                    f"both shuffles reshape and the transpose between them is not undone by {reader.name}"))
                break
            ctx.merge(group, other, "shuffle+shuffle")
            state = merged
        if _is_identity(state.first) and _is_identity(state.second):  # most chains transpose: nothing to erase
            _erase_if_identity(ctx, group, state)


def _erase_if_identity(ctx: PlanContext, group: Group, state: ShuffleState) -> None:
    """A shuffle chain that changes nothing is removed ('replaced by ... nothing')."""
    graph = ctx.graph
    src = group.head.inputs[0] if group.head.inputs else ""
    dst = group.tail.outputs[0]
    if not src or graph.is_graph_output(dst):
        return
    if not (_is_identity(state.first) and _is_identity(state.second)):
        return
    if state.reshapes:
        a, b = graph.shape(src), graph.shape(dst)
        if a is None or a != b or not all(isinstance(d, int) for d in a):
            return
    # each hands its input on (the chain's output is its input's value): readers see through to ``src``
    for node in list(group.nodes):
        ctx.forward(node, node.inputs[0] if node.inputs else "", "shuffles that cancel out are erased")


def fuse_shuffle_reduce(ctx: PlanContext) -> None:
    for node in ctx.graph.nodes_of("Transpose"):
        if ctx.group(node) is None:
            continue
        group = ctx.owner[node]
        if len(group.nodes) != 1:
            continue  # merged with a reshape: not a pure permutation
        reader = ctx.sole_reader(node.outputs[0])
        if reader is None or not reader.op.startswith("Reduce") or ctx.group(reader) is None:
            continue
        if not reader.attr("keepdims", 1):
            ctx.near_miss([node, reader], Blocked("shuffle+reduce", "keepdims",
                                                  f"{reader.name} does not keep dimensions (keepdims=0)"))
            continue
        reduce_group = ctx.owner[reader]
        merged = ctx.merge(reduce_group, group, "shuffle+reduce", name=f"{node.name} + {reduce_group.name}")
        merged.kind = "reduction"
