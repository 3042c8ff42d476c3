"""Parallel linear branches over one tensor, summed: the blocks structural re-parameterization merges.

RepVGG, MobileOne, ACNet and YOLO's RepConv train a block as several convolutions (and a BatchNorm
"identity" branch) that all read the same tensor and are added. Every branch is linear in that tensor,
so the sum is one convolution whose kernel is the sum of the branch kernels, each zero-padded to the
largest and centred, a BatchNorm branch being the identity kernel scaled per channel (RepVGG, arXiv
2101.03697, section 3.3). TensorRT does not merge parallel convolutions: it builds each branch as a
layer of its own and adds the results in an epilogue or a layer of its own (rules/advice.toml
[rule.TRT208]). This module finds such sums and checks that the merge is exact (same stride and groups,
centred padding); the advice reports them and ``trtadvisor fix`` merges them.

A branch is a Conv (optionally followed by a BatchNormalization of its output alone), a
BatchNormalization of the input, the input itself, or a per-channel constant (it joins the bias). The
sum is any tree of two-input Adds (or one Sum) whose inner results feed only the tree.
"""

from __future__ import annotations

from dataclasses import dataclass

from trtadvisor.analysis.cache import memoized
from trtadvisor.ir.graph import Graph, Node

_SUMS = ("Add", "Sum")
_MAX_LEAVES = 64  # a wider tree is not a re-parameterizable block (and bounds a hostile graph)


@dataclass(frozen=True)
class Branch:
    kind: str                  # "conv" | "batchnorm" | "identity" | "constant"
    nodes: tuple[Node, ...]    # conv: the Conv [and its BatchNormalization]; batchnorm: the BN; else ()
    tensor: str                # what the branch adds to the sum


@dataclass(frozen=True)
class BranchSum:
    source: str                       # the tensor every branch reads
    sums: tuple[Node, ...]            # the Add/Sum nodes, the one writing the result last
    branches: tuple[Branch, ...]
    kept: Node                        # the convolution whose kernel (the largest) holds the others
    kernel: tuple[int, ...]           # the merged kernel's spatial size
    pads: tuple[int, ...]             # the merged convolution's pads (ONNX order: begins, then ends)

    @property
    def output(self) -> str:
        return self.sums[-1].outputs[0]

    @property
    def nodes(self) -> tuple[Node, ...]:
        """Every node the merge replaces, the kept convolution first."""
        rest = [n for b in self.branches for n in b.nodes if n is not self.kept]
        return (self.kept, *rest, *self.sums)

    def describe(self) -> str:
        """The branches in words: '3x3 conv, 1x1 conv, BatchNorm identity'."""
        words = []
        for b in self.branches:
            if b.kind == "conv":
                shape = _kernel_of(b.nodes[0])
                words.append("x".join(map(str, shape or ())) + " conv" + (" + BatchNorm" if len(b.nodes) > 1 else ""))
            elif b.kind == "batchnorm":
                words.append("BatchNorm identity")
            else:
                words.append(b.kind)
        return ", ".join(words)


def summed_branches(graph: Graph) -> list[BranchSum]:
    """Every exactly mergeable sum of two or more convolution or BatchNorm branches over one tensor."""
    return list(memoized(graph, "summed_branches", lambda: tuple(_find(graph))))


def _find(graph: Graph) -> list[BranchSum]:
    # A site has two convolution or BatchNorm branches over one tensor: start from tensors that two such
    # nodes read (a handful in any graph, found in one pass over the convolutions), not from every Add.
    found: list[BranchSum] = []
    roots: dict[Node, None] = {}
    seen: set[str] = set()
    for conv in graph.nodes_of("Conv"):
        source = conv.inputs[0] if conv.inputs else ""
        if not source or source in seen:
            continue
        seen.add(source)
        readers = [r for r in graph.consumers(source) if r.op in ("Conv", "BatchNormalization")]
        if len(readers) < 2:
            continue
        for reader in readers:
            root = _root_sum(graph, reader)
            if root is not None:
                roots[root] = None
    for root in sorted(roots, key=lambda n: n.index):
        site = _site(graph, root)
        if site is not None:
            found.append(site)
    return found


def _root_sum(graph: Graph, node: Node) -> Node | None:
    """The sum a branch starting at ``node`` (a Conv, a BatchNorm, or a Conv and its BatchNorm) ends in:
    the root of the tree of sums it feeds; None when its result goes elsewhere."""
    for _ in range(2):
        if not node.outputs:
            return None
        readers = graph.consumers(node.outputs[0])
        if len(readers) != 1:
            return None
        node = readers[0]
        if node.op in _SUMS:
            while _inner(graph, node):
                node = graph.consumers(node.outputs[0])[0]
            return node
        if node.op != "BatchNormalization":
            return None
    return None


def _inner(graph: Graph, node: Node) -> bool:
    """Whether ``node``'s result only feeds another sum (so it is not the root of its tree)."""
    out = node.outputs[0]
    readers = graph.consumers(out)
    return len(readers) == 1 and readers[0].op in _SUMS and not graph.is_graph_output(out)


def _site(graph: Graph, root: Node) -> BranchSum | None:
    sums, leaves = _tree(graph, root)
    if leaves is None or len(leaves) < 2:
        return None
    branches = [_branch(graph, leaf) for leaf in leaves]
    if any(b is None for b in branches):
        return None
    typed: list[Branch] = branches  # type: ignore[assignment]
    sources = {_source(b) for b in typed if b.kind != "constant"}
    sources.discard(None)  # type: ignore[arg-type]
    identity_reads = {b.tensor for b in typed if b.kind == "identity"}
    convs = [b.nodes[0] for b in typed if b.kind == "conv"]
    if len(sources) != 1 or not convs or sum(b.kind in ("conv", "batchnorm") for b in typed) < 2:
        return None
    source = next(iter(sources))
    if any(t != source for t in identity_reads):
        return None
    merged = _merged_geometry(graph, convs, identity=any(b.kind in ("batchnorm", "identity") for b in typed))
    if merged is None:
        return None
    channels, rank = graph.shape(convs[0].inputs[1])[0], len(merged[1])  # type: ignore[index]
    if any(b.kind == "constant" and not _per_channel(graph, b.tensor, channels, rank) for b in typed):
        return None
    kept, kernel, pads = merged
    return BranchSum(source, tuple(sums), tuple(typed), kept, kernel, pads)


def _tree(graph: Graph, root: Node) -> tuple[list[Node], list[str] | None]:
    """The sum nodes of the tree under ``root`` (root last) and the tensors they add (None: not a tree
    this module merges, e.g. too wide)."""
    sums: list[Node] = []
    leaves: list[str] = []
    pending = [root]
    while pending:
        node = pending.pop()
        sums.append(node)
        if node.op == "Add" and len(node.inputs) != 2:
            return sums, None
        for tensor in node.inputs:
            if not tensor:
                return sums, None
            producer = graph.producer(tensor)
            if producer is not None and producer.op in _SUMS and producer is not root and _inner(graph, producer):
                pending.append(producer)
            else:
                leaves.append(tensor)
            if len(leaves) + len(pending) > _MAX_LEAVES:
                return sums, None
    sums.sort(key=lambda n: n.index)  # producers before readers, the root last
    return sums, leaves


def _only_read_by_sum(graph: Graph, tensor: str) -> bool:
    readers = graph.consumers(tensor)
    return len(readers) == 1 and readers[0].op in _SUMS and not graph.is_graph_output(tensor)


def _branch(graph: Graph, tensor: str) -> Branch | None:
    producer = graph.producer(tensor)
    if _constant(graph, tensor):
        return Branch("constant", (), tensor)  # its Constant node may have other readers: left in place
    if producer is None or not _only_read_by_sum(graph, tensor):
        return Branch("identity", (), tensor)
    if producer.op == "Conv":
        return Branch("conv", (producer,), tensor) if _linear_conv(graph, producer) else None
    if producer.op == "BatchNormalization" and _inference_bn(graph, producer):
        before = graph.producer(producer.inputs[0])
        if before is not None and before.op == "Conv" and _linear_conv(graph, before) and \
                len(graph.consumers(before.outputs[0])) == 1 and not graph.is_graph_output(before.outputs[0]):
            return Branch("conv", (before, producer), tensor)
        return Branch("batchnorm", (producer,), tensor)
    return Branch("identity", (), tensor)


def _source(branch: Branch) -> str | None:
    if branch.kind == "identity":
        return branch.tensor
    if branch.kind in ("conv", "batchnorm"):
        return branch.nodes[0].inputs[0]
    return None


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
