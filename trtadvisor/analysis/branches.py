"""Linear branches over one tensor, combined: the blocks structural re-parameterization merges into one conv.

RepVGG, MobileOne, ACNet, RepGhost, RepViT and FastViT train a block as several convolutions (and BatchNorm
"identity" branches) that all read the same tensor and are added, subtracted or scaled per channel. Every
branch is linear in that tensor, so the whole expression is one convolution: its kernel is the combination
of the branch kernels, each zero-padded to the largest and centred, the tensor itself being the identity
kernel, a BatchNormalization or a per-channel scale multiplying a term's kernel and bias, a per-channel
constant joining the bias (RepVGG, arXiv 2101.03697, section 3.3). TensorRT does not merge parallel
convolutions: it builds each branch as a layer of its own and combines the results in an epilogue or a
layer of its own (rules/advice.toml [rule.TRT208]). This module finds such expressions and checks that the
merge is exact (same stride and groups, centred padding); the advice reports them and ``trtadvisor fix``
merges them.

The expression is a tree: Add/Sum/Sub of terms, Mul or Div of a term by a per-channel constant, an
inference BatchNormalization of a term; its leaves are Convs of the source, the source itself, and
per-channel constants. Every inner result feeds only the tree.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from trtadvisor.analysis.cache import memoized
from trtadvisor.ir.graph import Graph, Node

_SUMS = ("Add", "Sum")
_LINEAR = ("Add", "Sum", "Sub", "Mul", "Div", "BatchNormalization")  # the ops an expression is made of
_MAX_TERMS = 64  # a larger expression is not a re-parameterizable block (and bounds a hostile graph)


@dataclass(frozen=True)
class Term:
    """One node of the expression: a combination ("sum", "difference", "scale", "divide", "batchnorm") of
    ``operands``, or a leaf ("conv", "identity", "constant") with no operands."""

    kind: str
    node: Node | None      # the node computing it (None for the source and for an initializer)
    tensor: str            # what it computes
    operands: tuple[Term, ...] = ()

    def leaves(self) -> list[Term]:
        if not self.operands:
            return [self]
        return [leaf for operand in self.operands for leaf in operand.leaves()]

    def inner(self) -> list[Node]:
        """The nodes of the combinations (not the leaves), inputs before readers."""
        if not self.operands:
            return []
        nodes = [n for operand in self.operands for n in operand.inner()]
        return [*nodes, self.node] if self.node is not None else nodes


@dataclass(frozen=True)
class BranchSum:
    source: str                       # the tensor every branch reads
    expression: Term                  # the whole combination, its root writing the result
    kept: Node                        # the convolution whose kernel (the largest) holds the others
    kernel: tuple[int, ...]           # the merged kernel's spatial size
    pads: tuple[int, ...]             # the merged convolution's pads (ONNX order: begins, then ends)

    @property
    def root(self) -> Node:
        return self.expression.node  # type: ignore[return-value]

    @property
    def output(self) -> str:
        return self.expression.tensor

    @property
    def branches(self) -> list[Term]:
        """The convolutions and the source itself (each a branch), constants left out."""
        return [leaf for leaf in self.expression.leaves() if leaf.kind != "constant"]

    @property
    def nodes(self) -> tuple[Node, ...]:
        """Every node the merge replaces, the kept convolution first."""
        convs = [leaf.node for leaf in self.expression.leaves() if leaf.kind == "conv" and leaf.node is not self.kept]
        return (self.kept, *convs, *self.expression.inner())  # type: ignore[misc]

    def describe(self) -> str:
        """The branches in words: 'BatchNorm identity, 1x1 conv, 4 x 3x3 conv'."""
        words: list[str] = []
        _describe(self.expression, False, words)
        order = {"identity": 0, "BatchNorm identity": 0}
        counted = Counter(words)
        ranked = sorted(counted, key=lambda w: (order.get(w, 1), _kernel_rank(w), w))
        return ", ".join(w if counted[w] == 1 else f"{counted[w]} x {w}" for w in ranked)


def _describe(term: Term, normed: bool, words: list[str]) -> None:
    if term.kind == "conv":
        shape = _kernel_of(term.node)  # type: ignore[arg-type]
        words.append("x".join(map(str, shape or ())) + " conv" + (" + BatchNorm" if normed else ""))
    elif term.kind == "identity":
        words.append("BatchNorm identity" if normed else "identity")
    for operand in term.operands:
        _describe(operand, term.kind == "batchnorm", words)


def _kernel_rank(word: str) -> int:
    head = word.split(" ")[0]
    return sum(int(d) for d in head.split("x")) if all(d.isdigit() for d in head.split("x")) else 0


def summed_branches(graph: Graph) -> list[BranchSum]:
    """Every exactly mergeable combination of two or more branches (one a convolution) over one tensor."""
    return list(memoized(graph, "summed_branches", lambda: tuple(_find(graph))))


def _find(graph: Graph) -> list[BranchSum]:
    # A site has two convolution or BatchNorm branches over one tensor: start from tensors that two such
    # nodes read (a handful in any graph, found in one pass over the convolutions), not from every Add.
    found: list[BranchSum] = []
    paths: dict[Node, list[Node]] = {}  # keyed by the top of each path, so each tree is tried once
    seen: set[str] = set()
    for conv in graph.nodes_of("Conv"):
        source = conv.inputs[0] if conv.inputs else ""
        if not source or source in seen:
            continue
        seen.add(source)
        readers = [r for r in graph.consumers(source) if r.op in ("Conv", "BatchNormalization")]
        if len(readers) < 2:
            continue  # one convolution plus its input is already one layer (the Add is its epilogue)
        for reader in readers:
            path = _combinations_above(graph, reader)
            if path:
                paths.setdefault(path[-1], path)
    taken: set[Node] = set()
    for top in sorted(paths, key=lambda n: n.index):
        # The largest combination over one source: a block's residual Add may add it to a shortcut of
        # another tensor (RepGhost), so the nodes below the top are tried when the top's tree is mixed.
        for root in reversed(paths[top]):
            if root in taken:
                break
            site = _site(graph, root)
            if site is not None:
                found.append(site)
                taken.update(site.expression.inner())
                break
    return sorted(found, key=lambda site: site.root.index)


def _combinations_above(graph: Graph, node: Node) -> list[Node]:
    """The combining nodes above a branch that starts at ``node`` (a Conv or a BatchNormalization of the
    source), from the first up to the last that is read by the tree alone; empty when there is none."""
    path = [node] if node.op in _LINEAR else []
    while node.outputs:
        out = node.outputs[0]
        readers = graph.consumers(out)
        if len(readers) != 1 or graph.is_graph_output(out) or readers[0].op not in _LINEAR:
            break
        node = readers[0]
        path.append(node)
        if len(path) > _MAX_TERMS:
            break
    return path if any(n.op in _SUMS or n.op == "Sub" for n in path) else []


def _site(graph: Graph, root: Node) -> BranchSum | None:
    if not root.outputs:
        return None
    budget = [_MAX_TERMS]
    expression = _term(graph, root.outputs[0], True, budget)
    if expression is None or expression.node is not root:
        return None
    leaves = expression.leaves()
    convs = [leaf.node for leaf in leaves if leaf.kind == "conv"]
    branches = [leaf for leaf in leaves if leaf.kind != "constant"]
    if not convs or len(branches) < 2:
        return None
    sources = {leaf.node.inputs[0] if leaf.kind == "conv" else leaf.tensor for leaf in branches}  # type: ignore[union-attr]
    if len(sources) != 1:
        return None
    source = next(iter(sources))
    merged = _merged_geometry(graph, convs, identity=any(leaf.kind == "identity" for leaf in branches))  # type: ignore[arg-type]
    if merged is None:
        return None
    channels, rank = graph.shape(convs[0].inputs[1])[0], len(merged[1])  # type: ignore[index, union-attr]
    # constant leaves: added terms and the factors of Mul/Div terms alike
    if any(leaf.kind == "constant" and not _per_channel(graph, leaf.tensor, channels, rank) for leaf in leaves):
        return None
    kept, kernel, pads = merged
    return BranchSum(source, expression, kept, kernel, pads)


def _term(graph: Graph, tensor: str, root: bool, budget: list[int]) -> Term | None:
    """The expression computing ``tensor``; None when it is not linear (then no site holds it)."""
    budget[0] -= 1
    if budget[0] < 0:
        return None
    producer = graph.producer(tensor)
    if _constant(graph, tensor):
        return Term("constant", None, tensor)
    if producer is None or (not root and not _only_read_once(graph, tensor)):
        return Term("identity", None, tensor)  # the source (or a shared tensor: another source)
    op = producer.op
    if op == "Conv":
        return Term("conv", producer, tensor) if _linear_conv(graph, producer) else Term("identity", None, tensor)
    if op in _SUMS or op == "Sub":
        if (op != "Sum" and len(producer.inputs) != 2) or not producer.inputs or not all(producer.inputs):
            return None
        operands = [_term(graph, t, False, budget) for t in producer.inputs]
        if any(o is None for o in operands):
            return None
        kind = "difference" if op == "Sub" else "sum"
        return Term(kind, producer, tensor, tuple(operands))  # type: ignore[arg-type]
    if op in ("Mul", "Div") and len(producer.inputs) == 2:
        a, b = producer.inputs
        if op == "Mul" and _constant(graph, a) and not _constant(graph, b):
            a, b = b, a
        if not _constant(graph, b) or _constant(graph, a):
            return Term("identity", None, tensor)
        operand = _term(graph, a, False, budget)
        if operand is None:
            return None
        return Term("scale" if op == "Mul" else "divide", producer, tensor, (operand, Term("constant", None, b)))
    if op == "BatchNormalization" and _inference_bn(graph, producer):
        operand = _term(graph, producer.inputs[0], False, budget)
        return Term("batchnorm", producer, tensor, (operand,)) if operand is not None else None
    return Term("identity", None, tensor)


def _only_read_once(graph: Graph, tensor: str) -> bool:
    return len(graph.consumers(tensor)) == 1 and not graph.is_graph_output(tensor)


def _per_channel(graph: Graph, tensor: str, channels: object, spatial_rank: int) -> bool:
    """A constant that adds one value, or one value per output channel: it joins the merged bias."""
    shape = graph.shape(tensor)
    if shape is None or any(not isinstance(d, int) for d in shape):
        return False
    if all(d == 1 for d in shape):
        return True
    trimmed = list(shape)
    while len(trimmed) > spatial_rank + 1 and trimmed[0] == 1:
        trimmed.pop(0)  # a leading batch axis of 1
    return trimmed == [channels, *([1] * spatial_rank)]


def _constant(graph: Graph, tensor: str) -> bool:
    """A build-time constant, also read through the Identity copies TorchScript writes for shared weights."""
    for _ in range(3):
        if graph.is_constant(tensor):
            return True
        producer = graph.producer(tensor)
        if producer is None or producer.op != "Identity" or not producer.inputs:
            return False
        tensor = producer.inputs[0]
    return False


def _inference_bn(graph: Graph, bn: Node) -> bool:
    if len(bn.inputs) < 5 or any(not _constant(graph, t) for t in bn.inputs[1:5]):
        return False
    if any(o and (graph.consumers(o) or graph.is_graph_output(o)) for o in bn.outputs[1:]):
        return False  # running statistics read: training mode
    return not bn.attr("training_mode", 0) and bn.attr("spatial", 1) != 0


def _linear_conv(graph: Graph, conv: Node) -> bool:
    """A Conv whose weights and bias are build-time constants, with explicit (or no) padding."""
    if len(conv.inputs) < 2 or not _constant(graph, conv.inputs[1]):
        return False
    if conv.input(2) and not _constant(graph, conv.input(2)):
        return False
    return str(conv.attr("auto_pad", "NOTSET")) in ("NOTSET", "b'NOTSET'") and _kernel_of(conv) is not None


def _kernel_of(conv: Node) -> tuple[int, ...] | None:
    shape = conv.graph.shape(conv.inputs[1]) if len(conv.inputs) > 1 else None
    if shape is None or len(shape) < 3 or any(not isinstance(d, int) for d in shape):
        return None
    return tuple(shape[2:])  # type: ignore[arg-type]


def _merged_geometry(graph: Graph, convs: list[Node], identity: bool
                     ) -> tuple[Node, tuple[int, ...], tuple[int, ...]] | None:
    """The kept convolution, merged kernel and pads, when every branch samples around the same centre
    with the same stride and groups (else None: the sum is not one convolution)."""
    kernels = [_kernel_of(c) for c in convs]
    weights = [graph.shape(c.inputs[1]) for c in convs]
    rank = len(kernels[0])  # type: ignore[arg-type]
    if any(k is None or len(k) != rank for k in kernels) or len({w[:2] for w in weights}) != 1:  # type: ignore[index]
        return None
    groups = {int(c.attr("group", 1)) for c in convs}
    strides = {tuple(c.attr("strides") or [1] * rank) for c in convs}
    if len(groups) != 1 or len(strides) != 1:
        return None
    offsets_begin, offsets_end = set(), set()
    for conv, kernel in zip(convs, kernels, strict=True):
        dilations = tuple(conv.attr("dilations") or [1] * rank)
        if any(d != 1 and k != 1 for d, k in zip(dilations, kernel, strict=True)):  # type: ignore[arg-type]
            return None  # a dilated kernel samples another grid
        pads = tuple(conv.attr("pads") or [0] * (2 * rank))
        if len(pads) != 2 * rank:
            return None
        # Twice the distance from a window's first (last) sample to its centre, less the pad: equal for
        # every branch exactly when all sample around one centre.
        offsets_begin.add(tuple(2 * p - (k - 1) for p, k in zip(pads[:rank], kernel, strict=True)))  # type: ignore[arg-type]
        offsets_end.add(tuple(2 * p - (k - 1) for p, k in zip(pads[rank:], kernel, strict=True)))  # type: ignore[arg-type]
    if len(offsets_begin) != 1 or len(offsets_end) != 1:
        return None
    merged = tuple(max(k[i] for k in kernels) for i in range(rank))  # type: ignore[index]
    if identity:
        # The identity kernel is 1 at the centre: the convolutions must keep the size ("same" padding),
        # stride 1, and as many output channels as input channels.
        out_channels, per_group = weights[0][0], weights[0][1]  # type: ignore[index]
        in_channels = per_group * next(iter(groups))  # type: ignore[operator]
        if next(iter(offsets_begin)) != (0,) * rank or next(iter(offsets_end)) != (0,) * rank or \
                set(next(iter(strides))) != {1} or out_channels != in_channels:
            return None
    if any(not all((m - k) % 2 == 0 for m, k in zip(merged, kernel, strict=True)) for kernel in kernels):  # type: ignore[arg-type]
        return None
    kept = max(convs, key=lambda c: (_kernel_of(c) == merged, sum(_kernel_of(c) or ())))  # type: ignore[arg-type]
    begin, end = next(iter(offsets_begin)), next(iter(offsets_end))
    pads = tuple((o + m - 1) // 2 for o, m in zip(begin, merged, strict=True)) + \
        tuple((o + m - 1) // 2 for o, m in zip(end, merged, strict=True))
    if any(p < 0 for p in pads):
        return None
    return kept, merged, pads
