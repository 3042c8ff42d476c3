"""Resolve the ONNX graph into the predicted engine: every node in exactly one layer, or eliminated.

The planner mirrors the order of TensorRT's builder passes as its verbose logs show them
(``../shared/data/trt-artifacts/trt-cookbook/trt10.16.1/result-02-build-verbose.log``): constant and
shape folding, Myelin partitioning on versions that have it, scale fusions, vertical fusions
(convolution epilogues, activations, reductions), pointwise fusion, then the late fusions. Each pass
lives in ``trtadvisor/plan/passes/`` and only merges groups through :class:`PlanContext`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from enum import Enum
from operator import attrgetter
from typing import NamedTuple, TypeVar

from trtadvisor.ir.graph import Graph, Node, node_index
from trtadvisor.knowledge.findings import Finding, finding_for
from trtadvisor.knowledge.rulebook import RuleBook
from trtadvisor.knowledge.target import Target

_NO_FUSIONS: list[str] = []
_NO_READERS: list[Node] = []  # shared, never modified
_op_of = attrgetter("op")
T = TypeVar("T")


class _Wait(Enum):
    WAIT = "wait"


WAIT = _Wait.WAIT  # PlanContext.from_shapes: no guess, wait for the shapes


class Group:
    """A layer under construction: the nodes TensorRT will run as one engine layer."""

    __slots__ = ("fusions", "kind", "name", "nodes", "pointwise")

    def __init__(self, node: Node, kind: str) -> None:
        self.nodes: list[Node] = [node]
        self.kind: str = kind
        self.fusions: list[str] = _NO_FUSIONS  # most layers never fuse: share one empty list until one does
        self.name: str = node.name
        self.pointwise = False  # True once the group is a PWN(...) layer

    @property
    def head(self) -> Node:
        return self.nodes[0]

    @property
    def tail(self) -> Node:
        return self.nodes[-1]

    def add_fusion(self, fusion_id: str) -> None:
        if fusion_id not in self.fusions:
            if self.fusions is _NO_FUSIONS:
                self.fusions = []
            self.fusions.append(fusion_id)


class Blocked(NamedTuple):
    """Why a fusion does not apply: the failing condition's id in the fusion's rule data, and what failed here.

    ``fusion`` and ``condition`` name ``rules/fusions.toml`` [fusion.FUSION] ``conditions.CONDITION``;
    ``detail`` is the concrete fact (node and tensor names, values). ``PlanContext.near_miss`` builds the message
    from both, so the rule's words live in the data only.
    """

    fusion: str
    condition: str
    detail: str


class PredictedLayer(NamedTuple):
    """One predicted engine layer (a tuple: a large model has tens of thousands of them)."""

    name: str
    kind: str
    nodes: tuple[str, ...]
    ops: tuple[str, ...]
    fusions: tuple[str, ...]
    # How sure the prediction is (plan/calibrate.py, from rules/observed_engines.toml): "observed", "documented"
    # or "inferred"; the artifacts or documentation behind it; what other builds made of these nodes.
    confidence: str = "inferred"
    evidence: tuple[str, ...] = ()
    alternatives: tuple[dict[str, object], ...] = ()
    precision: str | None = None  # plan/precision.py: "fp16", "tf32", "int8", "fp32->fp16" (a Cast), ...

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "kind": self.kind, "nodes": list(self.nodes), "ops": list(self.ops),
                "fusions": list(self.fusions), "confidence": self.confidence, "evidence": list(self.evidence),
                "alternatives": list(self.alternatives), "precision": self.precision}


@dataclass
class Prediction:
    layers: list[PredictedLayer]
    eliminated: list[str]
    eliminated_reasons: dict[str, str]
    findings: list[Finding]
    node_count: int
    # Every pattern fusion applied (fuse_nodes): (fusion id, its nodes). A Myelin region holding twelve
    # GELUs is one layer tagged "gelu" once, and twelve instances here.
    instances: list[tuple[str, tuple[Node, ...]]] = field(default_factory=list)
    # The nodes of each layer, as the plan had them (aligned with ``layers``; empty when a prediction
    # was made elsewhere): later stages need not map names back to nodes. Not part of the report.
    members: list[list[Node]] = field(default_factory=list, repr=False, compare=False)
    # Attention sites judged fused whose BMM1, Softmax and BMM2 the plan put in different layers (a fused MHA is
    # one kernel): the site's anchor -> the layer of each (plan/passes/attention.split_fused_sites).
    split_sites: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def fused_node_count(self) -> int:
        return sum(len(layer.nodes) for layer in self.layers if len(layer.nodes) > 1)

    @property
    def coverage(self) -> float:
        """Share of the nodes that run on the GPU which TensorRT fuses with at least one other node."""
        live = sum(len(layer.nodes) for layer in self.layers)
        return self.fused_node_count / live if live else 0.0


@dataclass
class PlanContext:
    """The mutable state the fusion passes share: who owns which node, what was eliminated, findings."""

    graph: Graph
    target: Target
    book: RuleBook
    owner: dict[Node, Group] = field(default_factory=dict)
    eliminated: dict[Node, str] = field(default_factory=dict)
    # Outputs of removed nodes that hand their data input on unchanged (Identity, Dropout, a same-type Cast,
    # an identity scale) -> the tensor whose value they carry: passes see through them (see forward).
    forwards: dict[str, str] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    # Decisions taken before shape inference answered, each with the check that confirms it once
    # the shapes are in: see plan_graph.
    assumptions: list[Callable[[], bool]] = field(default_factory=list)
    # Outputs of nodes the build folds (every input a constant, or a static Shape): known at build
    # time like initializers (filled by the eliminate pass; see is_build_constant).
    folded: set[str] = field(default_factory=set)
    # Each pattern fusion applied by fuse_nodes, as (fusion id, nodes): Prediction.instances.
    instances: list[tuple[str, tuple[Node, ...]]] = field(default_factory=list)
    # Other builds a pass knows for a layer (by id of its Group): carried into PredictedLayer.alternatives.
    alternatives: dict[int, tuple[dict[str, object], ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # One group per node, made by C-level maps: the kind is looked up once per op type, not per node.
        graph = self.graph
        kind_of = self.book.ops.kind_of
        kinds = {op: kind_of(op) for op in graph.op_types()}
        nodes = graph.nodes
        self.owner.update(zip(nodes, map(Group, nodes, map(kinds.__getitem__, map(_op_of, nodes))), strict=True))

    # -- node and tensor queries ----------------------------------------------------------------

    def group(self, node: Node) -> Group | None:
        """The layer holding ``node``; None once it is eliminated (eliminate() removes it from owner)."""
        return self.owner.get(node)

    def live_readers(self, tensor: str) -> list[Node]:
        """Readers that become engine layers (shape-only readers run on the host and do not count). A
        removed reader that hands the data on (a no-op Cast or Identity, a Reshape folded into the Gemm
        reading it) stands for its own live readers: the value is still read there; and for itself when its
        output is a graph output, which the engine must write."""
        eliminated = self.eliminated
        readers = self.graph.readers.get(tensor, _NO_READERS)
        if eliminated.keys().isdisjoint(readers):  # the common case, tested in C: no reader removed
            return list(readers)
        out: list[Node] = []
        shape_ops = self.book.op_set("fusions.toml", "platform", "host_shape_ops")
        seen: set[Node] = set()
        pending = list(readers)
        while pending:
            n = pending.pop(0)
            if n in seen:
                continue
            seen.add(n)
            if n not in eliminated:
                out.append(n)
            elif n.op not in shape_ops:
                for name in n.outputs:
                    if name:
                        pending.extend(self.graph.consumers(name))
                        if self.graph.is_graph_output(name):
                            out.append(n)  # the engine must write the value there: a reader of its own
        return out

    def sole_reader(self, tensor: str) -> Node | None:
        """The one live reader of ``tensor`` when it has exactly one and is not a graph output."""
        graph = self.graph
        if graph.is_graph_output(tensor):
            return None
        readers = graph.readers.get(tensor, _NO_READERS)
        if len(readers) == 1 and readers[0] not in self.eliminated:
            return readers[0]  # the common case, without building the list of live readers
        readers = self.live_readers(tensor)
        return readers[0] if len(readers) == 1 else None

    def why_not_sole(self, tensor: str, wanted: Node) -> str | None:
        """Why ``wanted`` is not the only reader of ``tensor``, in words; None when it is."""
        graph = self.graph
        if graph.is_graph_output(tensor):
            return f"tensor '{tensor}' is a graph output"
        readers = graph.readers.get(tensor, _NO_READERS)
        if len(readers) == 1 and readers[0] is wanted and wanted not in self.eliminated:
            return None  # the common case: ``wanted`` is the one reader, and a live one
        others = [self._reader_name(n) for n in self.live_readers(tensor) if n is not wanted]
        if others:
            shown = ", ".join(others[:3]) + (" ..." if len(others) > 3 else "")
            return f"tensor '{tensor}' is also read by {shown}"
        return None

    def source(self, tensor: str) -> str:
        """The tensor whose value ``tensor`` carries: itself, or the input that removed pass-through nodes
        (Identity, Dropout, a same-type Cast, Mul by 1...) hand on, so a fusion matches across them as the
        builder does once they are gone."""
        forwards = self.forwards
        while tensor in forwards:
            tensor = forwards[tensor]
        return tensor

    def _reader_name(self, node: Node) -> str:
        """A reader as a finding names it: a removed one (see live_readers) by the graph output it writes."""
        if node not in self.eliminated:
            return node.name
        outputs = [o for o in node.outputs if o and self.graph.is_graph_output(o)]
        return f"{node.name} (graph output '{outputs[0]}')" if outputs else node.name

    def data_inputs(self, node: Node) -> list[str]:
        """Inputs that carry activations: not constants, not eliminated shape values, not empty. An input
        a removed pass-through node writes is named by its source (see source)."""
        constants, producers, eliminated = self.graph.constant_names, self.graph.producers, self.eliminated
        forwards = self.forwards
        out = []
        for name in node.inputs:
            if name in forwards:
                name = self.source(name)
            if not name or name in constants:
                continue
            producer = producers.get(name)
            if producer is not None and producer in eliminated:
                continue
            out.append(name)
        return out

    def is_build_constant(self, tensor: str) -> bool:
        """Whether ``tensor``'s value is fixed when the engine is built: an initializer, a Constant,
        or computed from those only (ConstantOfShape of a constant shape, shape arithmetic on static
        shapes), which TensorRT folds before it builds layers."""
        return tensor in self.graph.constant_names or tensor in self.folded

    def live_producer(self, tensor: str) -> Node | None:
        """The node whose layer makes ``tensor``'s value, seen through removed pass-through nodes."""
        node = self.graph.producer(self.source(tensor) if tensor in self.forwards else tensor)
        if node is None or node in self.eliminated:
            return None
        return node

    def from_shapes(self, names: tuple[str, ...], rule: Callable[..., T], guess: T | _Wait = WAIT) -> T:
        """``rule(*shapes)`` for the tensors ``names``: the one way a pass decides from shapes that shape
        inference may still be computing.

        When every shape is known without waiting, ``rule`` decides. Otherwise, given a ``guess``, the pass
        goes on with it and the plan records the assumption ``rule(*shapes) == guess``, checked once the
        shapes are in: a wrong guess makes the plan run again with every shape known (plan/pipeline.py),
        so the result never depends on when inference finished. Without a guess (WAIT) it waits.
        """
        graph = self.graph
        shapes = []
        for name in names:
            known, shape = graph.shape_if_ready(name)
            if not known:
                break
            shapes.append(shape)
        else:
            return rule(*shapes)
        if guess is WAIT:
            return rule(*map(graph.shape, names))
        shape = graph.shape
        self.assumptions.append(lambda: rule(*map(shape, names)) == guess)
        return guess  # type: ignore[return-value]

    def assumptions_hold(self) -> bool:
        """Whether every speculative decision is what the shapes, now waited for, would have made."""
        return all(check() for check in self.assumptions)

    # -- mutations ------------------------------------------------------------------------------

    def eliminate(self, node: Node, reason: str) -> None:
        self.eliminated[node] = reason
        self.owner.pop(node, None)

    def forward(self, node: Node, data: str, reason: str) -> None:
        """Eliminate ``node``, which hands its input ``data`` on unchanged: readers of its output read
        ``data``'s value. An output that is also a graph output stays a tensor of its own (the engine must
        write it), so nothing is seen through there."""
        self.eliminate(node, reason)
        out = node.outputs[0] if node.outputs else ""
        if out and data and not self.graph.is_graph_output(out):
            self.forwards[out] = data

    def merge(self, into: Group, other: Group, fusion_id: str | None, name: str | None = None) -> Group:
        """Move ``other``'s nodes into ``into``; the name joins with ' + ' as TensorRT's does."""
        if into is other:
            if fusion_id:
                into.add_fusion(fusion_id)
            return into
        owner, moved = self.owner, other.nodes
        for node in moved:
            owner[node] = into
        if moved[0].index > into.nodes[-1].index:
            into.nodes.extend(moved)  # the common case: appending a successor, already in order
        else:
            into.nodes = sorted(into.nodes + moved, key=node_index)
        for f in other.fusions:  # most layers merged have none
            into.add_fusion(f)
        if fusion_id:  # add_fusion, inline: every merge but a few tags one
            fusions = into.fusions
            if fusion_id not in fusions:
                if fusions is _NO_FUSIONS:
                    into.fusions = [fusion_id]
                else:
                    fusions.append(fusion_id)
        into.name = name if name is not None else f"{into.name} + {other.name}"
        return into

    def fuse_nodes(self, nodes: Iterable[Node], fusion_id: str, kind: str | None = None) -> Group | None:
        """Make ``nodes`` one layer tagged ``fusion_id``; None when they already sit in different layers.

        Nodes inside one larger layer (a Myelin region, say) are only tagged: the pattern is fused
        there too, by Myelin's own code generator.
        """
        nodes = tuple(nodes)
        groups: list[Group] = []
        owner = self.owner
        for node in nodes:
            group = owner.get(node)
            if group is None:
                return None
            if group not in groups:  # Group has no __eq__: this is an identity test
                groups.append(group)
        # The base is the one group holding several nodes (two such groups cannot be fused), else the first.
        base: Group | None = None
        for g in groups:
            if len(g.nodes) > 1:
                if base is not None:
                    return None
                base = g
        if base is None:
            base = groups[0]
        if len(groups) > 1:
            name = base.name if base.kind == "myelin" else None
            for g in groups:
                if g is not base:
                    self.merge(base, g, None, name=name)
        base.add_fusion(fusion_id)
        if kind is not None and base.kind != "myelin":
            base.kind = kind
        self.instances.append((fusion_id, nodes))
        return base

    def absorb(self, base: Group, nodes: list[Node]) -> Group:
        """Make ``nodes`` (sorted, containing ``base``'s own nodes) one layer in a single step.

        Merging a large region one group at a time would re-sort it each time; this is linear.
        """
        owner = self.owner
        merged: set[Group] = {base}
        for node in nodes:
            other = owner[node]
            if other is not base:
                if other not in merged:
                    merged.add(other)
                    for f in other.fusions:
                        base.add_fusion(f)
                owner[node] = base
        base.nodes = list(nodes)
        return base

    def near_miss(self, nodes: Iterable[Node], blocked: Blocked) -> None:
        """Report a fusion that a condition blocks: message = what failed here + the condition from the data."""
        spec = self.book.fusion(blocked.fusion)
        text = spec.condition(blocked.condition)  # an id the data lacks raises: a bug in the pass
        names = [n.name for n in nodes]
        message = (f"{spec.id} fusion of {' and '.join(names)} is blocked: {blocked.detail} "
                   f"(condition {blocked.condition}: {text})")
        # The fusion's own fix (several fusions share one code, whose doc carries only the first one's),
        # or the failing condition's where the fusion's speaks to another condition.
        finding = finding_for(self.book, spec.code, message, names, spec.fix_for(blocked.condition))
        self.findings.append(replace(finding, fusion=spec.id, condition=blocked.condition))

    def groups(self) -> list[Group]:
        """Distinct live groups in the order of their last node.

        A fused layer runs once its last node's inputs exist, so ordering by the last node is a
        topological order of the layers, and it is the order TensorRT lists them in
        ('Conv_15' before 'Conv_16 + Add_17 + Relu_18' in the A100 ResNet-18 engine).
        """
        owner = self.owner
        ordered: list[Group] = []
        for node in self.graph.nodes:
            g = owner.get(node)
            if g is not None and g.nodes[-1] is node:  # one last node per group: no "seen" set needed
                ordered.append(g)
        return ordered
