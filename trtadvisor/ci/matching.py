"""Which node of the old model is which node of the new one, for ``trtadvisor diff``.

Two exports of one architecture name their nodes differently (TorchScript: ``/layer1/layer1.0/conv1/Conv``;
dynamo: ``node_Conv_295``), and the dynamo exporter's counters shift when a block is added, so that
``node_relu_7`` is another ReLU in the changed model. A predicted layer is known by its nodes' op types in
order and the shape it writes (symbolic dimensions as unknown), a node by its op type. Pairing:

1. layers that share a node name, have equal signatures and equal neighbouring layers anchor the alignment
   (a shifted counter fails the shapes or the neighbours);
2. the other layers are aligned in order by their signatures between the anchors (a longest common
   subsequence); where the alignment leaves as many layers unpaired on each side between two paired ones
   (``Flatten + Gemm`` in one export, ``Reshape + Gemm`` in the other), they are paired in order: the
   same place in the same architecture. The nodes of paired layers are paired by name, then by op type in
   order, then (layers paired by place) the rest in order when as many remain on each side;
3. nodes still unpaired with the same name and op type on both sides are paired (a layer that
   split keeps its nodes: the fusion it lost is found);
4. what is left (mostly nodes no layer holds: eliminated constants, shape arithmetic) is aligned by op type
   in graph order between the nodes already paired.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from trtadvisor.ci.alignment import align, increasing_pairs
from trtadvisor.ir.graph import Node
from trtadvisor.plan.context import PredictedLayer

NAME_MATCH_SHARE = 0.5  # at least this share of old nodes paired by name: the diff says it matched by name


@dataclass(frozen=True)
class NodeMatch:
    pairs: dict[str, str]  # old node name -> new node name
    by_name: int  # pairs of one name
    old_nodes: int

    @property
    def method(self) -> str:
        """'name' when most old nodes kept their names, else 'structure'."""
        if not self.old_nodes or self.by_name >= NAME_MATCH_SHARE * self.old_nodes:
            return "name"
        return "structure"


Shape = tuple[int | str, ...] | None
Signature = tuple[tuple[str, ...], Shape]


def _output_shape(node: Node | None) -> Shape:
    """The node's first output shape, symbolic dimensions as '?' (exporters name them differently)."""
    out = node.outputs[0] if node is not None and node.outputs else ""
    shape = node.graph.shape(out) if out else None  # type: ignore[union-attr]
    return None if shape is None else tuple(d if isinstance(d, int) else "?" for d in shape)


class _Pairing:
    def __init__(self, old: Sequence[Node], new: Sequence[Node]) -> None:
        self.old_nodes = {n.name: n for n in old}
        self.new_nodes = {n.name: n for n in new}
        self.old_key = {name: n.op for name, n in self.old_nodes.items()}
        self.new_key = {name: n.op for name, n in self.new_nodes.items()}
        self.pairs: dict[str, str] = {}
        self.taken: set[str] = set()
        # Same name and op type: a pair unless the structure pairs either node otherwise.
        new_key = self.new_key
        self.names = {name: name for name, op in self.old_key.items() if new_key.get(name) == op}

    def add(self, old: str, new: str) -> None:
        if old not in self.pairs and new not in self.taken:
            self.pairs[old] = new
            self.taken.add(new)

    def within(self, old: Sequence[str], new: Sequence[str], in_place: bool) -> None:
        """Pair the nodes of two paired layers: by name, then by key in order; ``in_place``: the layers were
        paired by place only, and what remains is paired in order when as many remain on each side."""
        if old == new and all(self.names.get(n) == n for n in old):  # the same layer, by its node names
            for n in old:
                self.add(n, n)
            return
        inside = set(new)
        for n in old:
            partner = self.names.get(n)
            if partner is not None and partner in inside:
                self.add(n, partner)
        a = [n for n in old if n not in self.pairs and n in self.old_key]
        b = [n for n in new if n not in self.taken and n in self.new_key]
        if not a or not b:
            return
        for i, j in align([self.old_key[n] for n in a], [self.new_key[n] for n in b]):
            self.add(a[i], b[j])
        if in_place:
            rest_a = [n for n in a if n not in self.pairs]
            rest_b = [n for n in b if n not in self.taken]
            if len(rest_a) == len(rest_b):
                for x, y in zip(rest_a, rest_b, strict=True):
                    self.add(x, y)


def match_nodes(old_nodes: Sequence[Node], new_nodes: Sequence[Node], old_layers: Sequence[PredictedLayer],
                new_layers: Sequence[PredictedLayer]) -> NodeMatch:
    p = _Pairing(old_nodes, new_nodes)
    _pair_layers(p, old_layers, new_layers)
    for old, new in p.names.items():
        p.add(old, new)
    _pair_rest(p, old_nodes, new_nodes)
    by_name = sum(1 for old, new in p.pairs.items() if old == new)
    return NodeMatch(p.pairs, by_name, len(old_nodes))


def _signature(layer: PredictedLayer, ops: Mapping[str, str], nodes: Mapping[str, Node]) -> Signature:
    """A layer's op types in order and the shape of what it writes: one shape per layer, not per node (a
    shape is decoded on demand, and a 100k-node graph has eight times fewer layers than nodes)."""
    last = layer.nodes[-1] if layer.nodes else ""
    return tuple(ops.get(n, "?") for n in layer.nodes), _output_shape(nodes.get(last))


def _pair_layers(p: _Pairing, old: Sequence[PredictedLayer], new: Sequence[PredictedLayer]) -> None:
    old_sig = [_signature(layer, p.old_key, p.old_nodes) for layer in old]
    new_sig = [_signature(layer, p.new_key, p.new_nodes) for layer in new]
    new_layer_of = {name: j for j, layer in enumerate(new) for name in layer.nodes}

    def same(i: int, j: int) -> bool:
        inside_old, inside_new = 0 <= i < len(old_sig), 0 <= j < len(new_sig)
        return old_sig[i] == new_sig[j] if inside_old and inside_new else inside_old == inside_new

    anchors: list[tuple[int, int]] = []
    for i, layer in enumerate(old):
        partner = next((p.names[n] for n in layer.nodes if n in p.names), None)
        j = new_layer_of.get(partner) if partner is not None else None
        if j is not None and same(i, j) and same(i - 1, j - 1) and same(i + 1, j + 1):
            anchors.append((i, j))
    aligned = align(old_sig, new_sig, increasing_pairs(anchors))
    for i, j in aligned:
        p.within(old[i].nodes, new[j].nodes, in_place=False)
    # Between two aligned layers, as many unaligned layers on each side: the same places, built otherwise.
    prev_i, prev_j = -1, -1
    for i, j in [*aligned, (len(old), len(new))]:
        if i - prev_i == j - prev_j > 1:
            for k in range(1, i - prev_i):
                p.within(old[prev_i + k].nodes, new[prev_j + k].nodes, in_place=True)
        prev_i, prev_j = i, j


def _pair_rest(p: _Pairing, old: Sequence[Node], new: Sequence[Node]) -> None:
    """Nodes still unpaired (mostly those no layer holds), aligned by op type between the paired ones."""
    if len(p.pairs) == len(old) or len(p.taken) == len(new):
        return
    old_pos = {n.name: i for i, n in enumerate(old)}
    new_pos = {n.name: j for j, n in enumerate(new)}
    anchors = increasing_pairs([(old_pos[a], new_pos[b]) for a, b in p.pairs.items()
                                if a in old_pos and b in new_pos])
    prev_i, prev_j = -1, -1
    for i, j in [*anchors, (len(old), len(new))]:
        a = [n for n in old[prev_i + 1:i] if n.name not in p.pairs]
        b = [n for n in new[prev_j + 1:j] if n.name not in p.taken]
        if a and b:
            for x, y in align([n.op for n in a], [n.op for n in b]):
                p.add(a[x].name, b[y].name)
        prev_i, prev_j = i, j
