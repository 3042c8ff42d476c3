"""What the cost model reads of nearly every node, by node position: its first output's declared type and number
of readers, and its first input's declared type.

The cost stage of a large graph is bound by memory: every lookup of a tensor name in a map of 100k names misses
the caches (300-500 ns each, measured on the 99k-node benchmark graph). The shape-inference child, idle once it has
sent the types, looks these up for every node (see trtadvisor.ir.inferred_types.node_facts_of); the parent then
reads them by node position, from lists in node order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from operator import attrgetter
from typing import Protocol


class Node(Protocol):
    """What these facts read of a node (trtadvisor.ir.graph.Node): its position, and its names for the check."""

    index: int
    outputs: tuple[str, ...]


_index_of = attrgetter("index")


class NodeFacts:
    """Per node of one graph in node order: its first output's declared type and reader count, its first input's
    declared type (None where undeclared or absent). The types are the graph's own (shared) tuples."""

    __slots__ = ("_in_at", "_out_at", "_readers", "_types")

    def __init__(self, types: list[object], out_at: list[int], in_at: list[int], readers: list[int]) -> None:
        self._types = types  # the distinct declared types (and None), which the positions index
        self._out_at = out_at
        self._in_at = in_at
        self._readers = readers

    def out_keys(self, nodes: Sequence[Node]) -> list[int]:
        """A key of each node's first output's declared type (equal keys, the same type; 0: undeclared)."""
        return list(map(self._out_at.__getitem__, map(_index_of, nodes)))

    def in_keys(self, nodes: Sequence[Node]) -> list[int]:
        """A key of each node's first input's declared type (equal keys, the same type; 0: undeclared)."""
        return list(map(self._in_at.__getitem__, map(_index_of, nodes)))

    def types_of(self, keys: Iterable[int]) -> list[object]:
        """The declared types of these keys (out_keys, in_keys)."""
        return list(map(self._types.__getitem__, keys))

    def out_types(self, nodes: Sequence[Node]) -> list[object]:
        """Each node's first output's declared type."""
        return self.types_of(self.out_keys(nodes))

    def in_types(self, nodes: Sequence[Node]) -> list[object]:
        """Each node's first input's declared type."""
        return self.types_of(self.in_keys(nodes))

    def out_readers(self, nodes: Sequence[Node]) -> list[int]:
        """How many reads each node's first output has (one per input of a node naming it)."""
        return list(map(self._readers.__getitem__, map(_index_of, nodes)))


def checked_node_facts(sent: object, types: Mapping[str, object], nodes: Sequence[Node]) -> NodeFacts | None:
    """The facts the shape-inference child sent (trtadvisor.ir.inferred_types.node_facts_of) for ``nodes``, whose
    tensors have the declared ``types`` (the map the child sent with them); None unless they are whole, of these
    nodes (their count, and the first outputs of the nodes it named) and every position is in range."""
    if not isinstance(sent, tuple) or len(sent) != 5 or not all(isinstance(part, list) for part in sent):
        return None
    named, out_at, in_at, readers, sample = sent
    count = len(nodes)
    if len(out_at) != count or len(in_at) != count or len(readers) != count:
        return None
    try:
        for i, name in sample:
            outputs = nodes[i].outputs
            if (outputs[0] if outputs else "") != name:
                return None
        resolved: list[object] = [None]  # the types themselves (by a tensor of each), shared with the map
        for name in named[1:]:
            type_ = types.get(name)
            if type_ is None:
                return None
            resolved.append(type_)
        if count and not (min(out_at) >= 0 and max(out_at) < len(resolved) and min(in_at) >= 0
                          and max(in_at) < len(resolved) and min(readers) >= 0):
            return None
    except (TypeError, ValueError, IndexError):  # an entry of another kind
        return None
    return NodeFacts(resolved, out_at, in_at, readers)
