"""Predicted cost of each engine layer before any build: FLOPs and bytes from shapes, a roofline time on
the target GPU.

A layer reads the tensors it takes from outside (activations and weights) and writes the tensors read
outside it; what flows between its own nodes stays on chip. So a fused epilogue costs no memory pass
and an unfused one costs a write and a read. The time is ``max(compute, memory) + overhead``:
compute is the layer's FLOPs over the peak of the path it runs on (tensor cores at the layer's
precision, or CUDA cores) times a per-kind efficiency, memory its bytes over the bandwidth times a
per-kind efficiency. Peaks, bandwidth and efficiencies are data (``rules/gpu_perf.toml``); the
efficiencies were fitted on real profiles, and the README holds the held-out figures.

Unknown shapes (a symbolic batch) leave a layer's cost unknown rather than guessed: ``--shapes`` fixes them.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from itertools import chain, compress, filterfalse, repeat
from operator import attrgetter, eq, is_, itemgetter, ne, not_, or_
from typing import Any, NamedTuple

from onnx import TensorProto

from trtadvisor.errors import UserError
from trtadvisor.ir.graph import Graph, Node, Shape
from trtadvisor.knowledge.findings import Finding
from trtadvisor.knowledge.perf import GpuPerf, PerfBook, gpu_perf, perf_book
from trtadvisor.knowledge.rulebook import RuleBook
from trtadvisor.knowledge.target import Target
from trtadvisor.plan.context import PredictedLayer, Prediction
from trtadvisor.plan.passes.concat import FUSION as CONCAT_REMOVAL
from trtadvisor.plan.passes.concat import copied_input, later_concat

# ONNX's own quantization ops and 8-bit types: a layer holding Q/DQ runs quantized math.
_QDQ_OPS = frozenset({"QuantizeLinear", "DequantizeLinear"})
_INT8_TYPES = frozenset({TensorProto.INT8, TensorProto.UINT8})


class LayerCost(NamedTuple):
    """One layer's predicted cost on the target (a tuple: a large model has tens of thousands)."""

    flops: int
    bytes: int
    ms: float
    bound: str  # "compute" or "memory"

    def to_json(self) -> dict[str, object]:
        return {"flops": self.flops, "bytes": self.bytes, "ms": round(self.ms, 6), "bound": self.bound}


@dataclass
class CostEstimate:
    """The cost of every predicted layer (None where a shape is unknown), on one GPU and precision."""

    layers: list[LayerCost | None]
    gpu: GpuPerf | None
    precision: str

    @property
    def predicted_ms(self) -> float | None:
        known = [c.ms for c in self.layers if c is not None]
        return sum(known) if known else None

    @property
    def unknown(self) -> int:
        return sum(1 for c in self.layers if c is None)

    def basis(self) -> dict[str, object]:
        """What the estimate stands on, for the summary: the GPU whose figures were used, and how."""
        gpu = self.gpu
        return {"gpu": gpu.name if gpu else None, "gpu_assumed": bool(gpu and gpu.assumed),
                "precision": self.precision, "unknown_layers": self.unknown,
                "source": gpu.source if gpu else None}


@dataclass(frozen=True)
class _Math:
    """How a layer's matrix math runs: the peak key, the tensor-core channel rule, bytes per element."""

    peak: str  # key of GpuPerf.peaks for tensor-core (or CUDA-core) matrix math
    channels: int  # channel multiple tensor cores need; 0 when the math runs on CUDA cores
    below: str  # "pad" or "cuda_cores": what happens to channel counts under `channels`
    float_bytes: int


def _math_for(target: Target, gpu: GpuPerf, perf: PerfBook, quantized: bool) -> _Math:
    """The precision a layer's matrix math runs in. TensorRT enables TF32 by default (BuilderFlag.kTF32),
    so FP32 convolutions and GEMMs use TF32 tensor cores where the GPU has them."""
    precision = target.precision
    float_bytes = 4 if precision in ("fp32", "tf32", "int8") else 2
    if quantized or precision == "int8":
        wanted = "fp8" if precision == "fp8" and gpu.peak("fp8_tc") else "int8"
    elif precision in ("fp16", "best"):
        wanted = "fp16"
    elif precision in ("bf16", "fp8"):
        wanted = "bf16" if precision == "bf16" else "fp8"
    else:
        wanted = "tf32"
    for name in (wanted, "fp16", "tf32"):
        if name == "tf32" and float_bytes == 2:
            continue  # a half-precision target does not fall back to TF32 before FP16
        if gpu.peak(f"{name}_tc") and name in perf.tensor_cores:
            channels, below = perf.tensor_cores[name]
            return _Math(f"{name}_tc", channels, below, float_bytes)
    return _Math("fp32_cuda", 0, "cuda_cores", float_bytes)


def _count(shape: tuple[object, ...] | None) -> int | None:
    if shape is None:
        return None
    n = 1
    for d in shape:
        if type(d) is not int or d < 0:
            return None
        n *= d
    return n


def _padded(channels: int, multiple: int) -> int:
    return -(-channels // multiple) * multiple


class _NodeWork(NamedTuple):
    flops: int  # the model's arithmetic
    tensor_flops: float  # work on tensor cores, channel padding included
    cuda_flops: float  # work on CUDA cores


# Tens of thousands of these are made per audit: tuple.__new__ skips the named tuple's Python-level __new__.
_new_cost = partial(tuple.__new__, LayerCost)
_new_work = partial(tuple.__new__, _NodeWork)


def _matrix_work(node: Node, shape: Callable[[str], Shape | None], math_: _Math) -> _NodeWork | None:
    op = node.op
    out_shape = shape(node.outputs[0]) if node.outputs else None
    out = _count(out_shape)
    if out is None:
        return None
    if op in ("Conv", "ConvTranspose"):
        w = shape(node.input(1))
        x = shape(node.input(0))
        if _count(w) is None or len(w) < 3 or _count(x) is None:
            return None
        group = _group(node, x, w, out_shape)
        window = math.prod(w[2:])  # type: ignore[arg-type]
        if op == "Conv":
            per_group_in, per_group_out = int(w[1]), int(w[0]) // group  # type: ignore[arg-type]
            flops = 2 * out * per_group_in * window
        else:  # every input element meets every weight of its group
            per_group_in, per_group_out = int(w[0]) // group, int(w[1])  # type: ignore[arg-type]
            flops = 2 * _count(x) * per_group_out * window  # type: ignore[operator]
    elif op == "Attention":
        q, k = shape(node.input(0)), shape(node.input(1))
        if _count(q) is None or _count(k) is None or len(q) != 4 or len(k) != 4:
            return None
        batch, heads, seq_q, depth = q  # type: ignore[misc]
        flops = 4 * batch * heads * seq_q * k[2] * depth  # type: ignore[operator]
        per_group_in = per_group_out = int(depth)  # type: ignore[arg-type]
    else:  # Gemm / MatMul: out = M x N, reduced over K
        a = shape(node.input(0))
        if a is None or not a or type(a[-1]) is not int:
            return None
        trans_a = op == "Gemm" and node.attr("transA", 0)
        reduce = a[0] if trans_a and len(a) == 2 else a[-1]
        if type(reduce) is not int:
            return None
        per_group_in = reduce
        per_group_out = out_shape[-1] if out_shape and type(out_shape[-1]) is int else 1  # type: ignore[assignment]
        flops = 2 * out * reduce
    return _on_cores(flops, per_group_in, per_group_out, math_)


def _group(node: Node, x: Shape, w: Shape, out: Shape | None) -> int:
    """A convolution's group count, read off its channels where the shapes give it, so pricing thousands
    of convolutions decodes no attributes; the attribute where the channels do not tell."""
    group = _group_of_shapes(node.op, x, w, out)
    return int(node.attr("group", 1) or 1) if group is None else group


def _group_of_shapes(op: str, x: Shape | None, w: Shape | None, out: Shape | None) -> int | None:
    """The group count the channels give (ONNX: input channels = group x weight dim 1 for Conv; output
    channels = group x weight dim 1 for ConvTranspose), or None where they do not tell."""
    if x is None or w is None or len(w) < 2:
        return None
    channels = (x[1] if len(x) > 1 else None) if op == "Conv" else (out[1] if out and len(out) > 1 else None)
    per_group = w[1]
    if type(channels) is int and type(per_group) is int and per_group > 0 and channels % per_group == 0:
        return channels // per_group
    return None


def _on_cores(flops: int, per_group_in: int, per_group_out: int, math_: _Math) -> _NodeWork | None:
    """Matrix work on tensor cores (channel padding counted) or, below their channel rule, CUDA cores."""
    if per_group_in < 1 or per_group_out < 1:
        return None  # a group that does not divide the channels: an invalid model, its cost is unknown
    multiple = math_.channels
    if not multiple or per_group_in == 1 or (per_group_in < multiple and math_.below == "cuda_cores"):
        return _NodeWork(flops, 0.0, float(flops))  # depthwise, or too few channels: CUDA cores
    padding = (_padded(per_group_in, multiple) / per_group_in) * (_padded(per_group_out, multiple) / per_group_out)
    return _NodeWork(flops, flops * padding, 0.0)


def _recurrent_work(node: Node, shape: Callable[[str], Shape | None], math_: _Math) -> tuple[_NodeWork | None, int]:
    """An LSTM/GRU/RNN's matrix work and its number of sequential steps (rules/gpu_perf.toml [work]):
    each step multiplies an input row by W and the hidden state by R. (None, 0) when a shape is unknown."""
    x, w, r = shape(node.input(0)), shape(node.input(1)), shape(node.input(2))
    if _count(x) is None or _count(w) is None or _count(r) is None or len(x) != 3 or len(w) != 3 or len(r) != 3:
        return None, 0
    steps, batch = (x[1], x[0]) if node.attr("layout", 0) else (x[0], x[1])  # layout 1: batch first
    flops = 2 * steps * batch * (_count(w) + _count(r))  # type: ignore[operator]
    work = _on_cores(flops, int(r[2]), int(w[1]), math_)  # type: ignore[arg-type]  # hidden -> gates x hidden
    return work, int(steps)  # type: ignore[arg-type]


def estimate_costs(graph: Graph, prediction: Prediction, target: Target, book: RuleBook) -> CostEstimate:
    """The cost of every predicted layer of ``graph`` (and its nested bodies) on the target."""
    gpu = gpu_perf(book, target)
    if gpu is None:
        return CostEstimate([None] * len(prediction.layers), None, target.precision)
    pricer = _Pricer(graph, prediction, target, gpu, perf_book(book), book.ops.shape_inputs, book.op_group("heavy"),
                     frozenset(book.platform["concat_copied_kinds"]), frozenset(book.platform["noop_shuffle_ops"]),
                     frozenset(book.platform["concat_unstrided_reader_kinds"]))
    planned, layers, price = pricer.planned, prediction.layers, pricer.layer_cost
    if planned and len(pricer.facts) == 1 and all(planned):  # one graph, every layer with its nodes
        costs = pricer.known_costs(layers, planned)
    else:
        costs = [price(layer, planned[i] if planned else None) for i, layer in enumerate(layers)]
    slicing = book.op_group("per_output_slice")
    if any(g.nodes_of(op) for g in graph.walk() for op in slicing):  # else no layer slices a node's output
        costs = _share_slices(costs, prediction.layers, slicing, pricer.perf.overhead_ms)
    return CostEstimate(costs, gpu, target.precision)


def _share_slices(costs: list[LayerCost | None], layers: Sequence[PredictedLayer], ops: frozenset[str],
                  overhead_ms: float) -> list[LayerCost | None]:
    """The slice layers of one Split (plan/slices.py) share the node's cost: each moves its own part (the
    node's traffic and arithmetic split evenly, exact for equal parts) and pays its own launch overhead."""
    sharing = Counter(layer.nodes for layer in layers if len(layer.ops) == 1 and layer.ops[0] in ops)
    if not sharing or max(sharing.values()) < 2:
        return costs
    shared = list(costs)
    for i, layer in enumerate(layers):
        n = sharing.get(layer.nodes, 1) if len(layer.ops) == 1 else 1
        cost = costs[i]
        if n > 1 and cost is not None:
            shared[i] = _new_cost((cost.flops // n, cost.bytes // n, (cost.ms - overhead_ms) / n + overhead_ms,
                                   cost.bound))
    return shared


class _GraphFacts:
    """What pricing needs of one graph, computed once: element counts, which tensors are weights
    (initializers, Constant outputs and the outputs of nodes folded away at build time: read once per
    layer at the weights' width) and which are 8-bit (QuantizeLinear outputs)."""

    __slots__ = ("eight_bit", "graph", "nodes", "reads_counted", "removed_reads", "shapes", "weights")

    def __init__(self, graph: Graph, eliminated: frozenset[str]) -> None:
        self.graph = graph
        self.shapes = _Shapes(graph)
        self.nodes = graph.node_facts()  # per node, by position, where the shape-inference child sent them
        folded: list[str] = []
        self.removed_reads: frozenset[str] = frozenset()  # what nodes the build removed read
        if eliminated:  # the graph's name index (100k names on a large model) only where the plan removed nodes
            by_name = graph.nodes_by_name()
            removed = [by_name[name] for name in eliminated & by_name.keys()]
            folded = [o for node in removed for o in node.outputs]
            self.removed_reads = frozenset(t for node in removed for t in node.inputs)
        self.weights = graph.constant_names.union(folded) if folded else graph.constant_names
        self.eight_bit = frozenset(o for n in graph.nodes_of("QuantizeLinear") for o in n.outputs)
        # Each reader list holds one entry per read by a node of this graph (a body's reads add entries)
        self.reads_counted = not graph.has_bodies()

    def read_bytes(self, tensors: Iterable[str], weight_bytes: int, float_bytes: int) -> int | None:
        """Bytes of reading ``tensors`` from memory; None when an activation's size is unknown (a weight
        of unknown size, computed by folded nodes, is left out rather than losing the layer)."""
        count, weights, eight_bit = self.shapes.count, self.weights, self.eight_bit
        initializer_count = self.shapes.weight_count
        traffic = 0
        for tensor in tensors:
            if tensor in weights:
                n = initializer_count(tensor)
                if n is None:  # a Constant's or folded node's output
                    n = count(tensor)
                traffic += (n or 0) * weight_bytes
                continue
            n = count(tensor)
            if n is None:
                return None
            traffic += n * (1 if tensor in eight_bit else float_bytes)
        return traffic


class _Pricer:
    """One pass over the predicted layers, over element counts computed once for every tensor (each is
    met as an output of one layer and as an input of the next)."""

    def __init__(self, graph: Graph, prediction: Prediction, target: Target, gpu: GpuPerf, perf: PerfBook,
                 shape_inputs: dict[str, tuple[int, ...]], matrix_ops: frozenset[str],
                 copied_kinds: frozenset[str] = frozenset(), noop_shuffles: frozenset[str] = frozenset(),
                 unstrided_kinds: frozenset[str] = frozenset()) -> None:
        self.gpu, self.perf, self.shape_inputs, self.matrix_ops = gpu, perf, shape_inputs, matrix_ops
        self.noop_shuffles, self.unstrided_kinds = noop_shuffles, unstrided_kinds
        self.graph, self.prediction, self.copied_kinds = graph, prediction, copied_kinds
        self._kind_of: dict[Node, str] | None = None  # each node's layer kind, for concat-removal copies
        self._by_name: dict[str, Node] | None = None  # only for a prediction without the plan's node lists
        # The plan's node list of each layer, when the prediction kept them all.
        self.planned = prediction.members if len(prediction.members) == len(prediction.layers) else None
        self.eliminated = frozenset(prediction.eliminated)
        self.facts = {id(g): _GraphFacts(g, self.eliminated) for g in graph.walk()}
        self.maths = (_math_for(target, gpu, perf, False), _math_for(target, gpu, perf, True))
        self.roles: dict[str, int] = {}  # op -> how its FLOPs are counted, memoised
        self.matmuls: dict[tuple[object, ...], _NodeWork | None] = {}  # and convolutions: see _matrix
        self.rates: dict[tuple[str, str], tuple[float, float, float]] = {}

    def _role(self, op: str) -> int:
        """How an op's FLOPs are counted (rules/gpu_perf.toml [work])."""
        perf = self.perf
        if op in self.matrix_ops:  # the heavy ops (rules/ops.toml [group.heavy]): tensor-core math
            how = _MATRIX
        elif op in perf.pool_ops:
            how = _POOL
        elif op in perf.recurrent_ops:
            how = _RECURRENT
        elif op in perf.flops_per_element or op.startswith(perf.per_input_prefixes):
            how = _PER_INPUT
        else:
            how = _PLAIN
        self.roles[op] = how
        return how

    def _matrix(self, node: Node, dims: Callable[[str], Shape | None], quantized: bool) -> _NodeWork | None:
        """_matrix_work, shared by the MatMuls and the convolutions of equal shapes (a transformer's thousands
        of MatMuls, a CNN's thousands of convolutions are a few kinds): a MatMul's work depends only on its
        first input's and its output's shapes, a convolution's on its input's, weights' and output's where
        the channels give its group (else it reads its attribute, and is priced on its own)."""
        op, inputs = node.op, node.inputs
        if op == "MatMul" and inputs and node.outputs:
            key: tuple[object, ...] = (quantized, dims(inputs[0]), dims(node.outputs[0]))
        elif (op == "Conv" or op == "ConvTranspose") and len(inputs) > 1 and node.outputs:
            x, w, out = dims(inputs[0]), dims(inputs[1]), dims(node.outputs[0])
            key = (quantized, op, x, w, out)
        else:
            return _matrix_work(node, dims, self.maths[quantized])
        work = self.matmuls.get(key, _MISSING)
        if work is _MISSING:
            # Whether the channels give a convolution's group depends on the key alone: asked once per key.
            if op != "MatMul" and _group_of_shapes(op, x, w, out) is None:
                work = self.matmuls[key] = _UNSHARED
            else:
                work = self.matmuls[key] = _matrix_work(node, dims, self.maths[quantized])
        if work is _UNSHARED:  # the group is not in the shapes: each such convolution reads its attribute
            return _matrix_work(node, dims, self.maths[quantized])
        return work  # type: ignore[return-value]

    def _node_work(self, node: Node, how: int, out: int | None, shapes: _Shapes, quantized: bool,
                   math_: _Math) -> tuple[_NodeWork | None, int]:
        """The work of a node that is not plain pointwise (``out``: its first output's element count), and
        the sequential steps it adds; (None, 0) where a shape it needs is unknown."""
        if how == _MATRIX:
            return self._matrix(node, shapes.dims, quantized), 0
        if how == _RECURRENT:
            return _recurrent_work(node, shapes.dims, math_)
        if out is None:
            return None, 0
        if how == _POOL:
            ops = out * math.prod(node.attr("kernel_shape") or ())
        else:  # _PER_INPUT: so many operations per element of the first input
            data = shapes.count(node.inputs[0]) if node.inputs else None
            if data is None:
                return None, 0
            ops = data * self.perf.flops_per_element.get(node.op, 1)
        return _new_work((ops, 0.0, float(ops))), 0

    def _time(self, kind: str, flops: int, tensor_flops: float, cuda_flops: float, traffic: int,
              math_: _Math, steps: int = 0) -> LayerCost:
        """The layer's roofline time, with each kind's denominators (see _rates) computed once; a layer of
        ``steps`` sequential recurrent steps takes at least one launch overhead per step."""
        rates = self.rates.get((kind, math_.peak))
        if rates is None:
            rates = self.rates[(kind, math_.peak)] = _rates(kind, math_, self.gpu, self.perf)
        tensor_rate, cuda_rate, memory_rate = rates
        compute_s = 0.0
        if tensor_flops:
            compute_s += tensor_flops / tensor_rate
        if cuda_flops:
            compute_s += cuda_flops / cuda_rate
        memory_s = traffic / memory_rate
        bound = "compute" if compute_s >= memory_s else "memory"
        overhead = self.perf.overhead_ms
        return _new_cost((flops, traffic, max(1e3 * max(compute_s, memory_s), steps * overhead) + overhead, bound))

    def _one_graph(self) -> _GraphFacts:
        """The facts of the one graph whose layers known_costs prices (estimate_costs calls it for one graph only)."""
        return next(iter(self.facts.values()))

    def known_costs(self, layers: Sequence[PredictedLayer], planned: list[list[Node]]) -> list[LayerCost | None]:
        """Every layer's cost, for one graph whose layers all have nodes.

        Real models repeat their blocks (a ResNet stage, a transformer's layers), so many layers have the same
        kind, ops and fusions, are wired alike inside and read and write tensors of the same types. Layers of
        one kind, ops and fusions are given a signature of everything their price depends on (_signatures),
        built column by column in C, and each distinct signature is priced once by layer_cost."""
        costs: list[LayerCost | None] = [None] * len(layers)
        price = self.layer_cost
        groups: defaultdict[tuple[object, ...], list[int]] = defaultdict(list)
        keys = zip(map(_kind_of_layer, layers), map(_ops_of_layer, layers), map(_fusions_of_layer, layers),
                   map(len, planned), strict=True)
        # each layer's position appended to its group's list in C (groups in the order first met)
        deque(map(list.append, map(groups.__getitem__, keys), range(len(layers))), maxlen=0)
        for (_, _, fusions, size), where in groups.items():
            if len(where) < _SHARED_FROM or size >= _LARGE or (size == 1 and CONCAT_REMOVAL in fusions):
                for i in where:  # a few layers, a region, or a removed Concat (priced by its neighbours)
                    costs[i] = price(layers[i], planned[i])
            else:
                self._price_known(where, layers, planned, costs)
        return costs

    def _price_known(self, where: list[int], layers: Sequence[PredictedLayer], planned: list[list[Node]],
                     costs: list[LayerCost | None]) -> None:
        """Price the layers ``where`` (of one kind, ops, fusions and size): a layer whose last node's first
        output has an unknown size (a symbolic batch) has an unknown cost (layer_cost's first test, made here
        for all at once), a reshape-only shuffle's aside (a NoOp whatever its size); the others by signature."""
        lasts = list(map(_last, map(planned.__getitem__, where)))
        facts = self._one_graph()
        shapes = facts.shapes
        if facts.nodes is None:
            tails = _first_outputs(list(map(_outputs_of, lasts)))
            tail_types = shapes.declared(tails)
        else:  # the names only where one is undeclared (its count is then its initializer's or Constant's)
            tail_types = facts.nodes.out_types(lasts)
            tails = _first_outputs(list(map(_outputs_of, lasts))) if None in tail_types else []
        counts = shapes.counts(tails, tail_types)
        if None not in counts:
            self._price_alike(where, layers, planned, costs, tail_types)
            return
        known = [i for i, n in zip(where, counts, strict=True) if n is not None]
        if layers[where[0]].kind == "shuffle":
            for i, n in zip(where, counts, strict=True):
                if n is None:
                    costs[i] = self.layer_cost(layers[i], planned[i])
        if len(known) >= _SHARED_FROM:
            self._price_alike(known, layers, planned, costs)
        else:
            for i in known:
                costs[i] = self.layer_cost(layers[i], planned[i], True)

    def _price_alike(self, where: list[int], layers: Sequence[PredictedLayer], planned: list[list[Node]],
                     costs: list[LayerCost | None], tail_types: list[object] | None = None) -> None:
        """Price the layers ``where`` (of one kind, ops, fusions and size; ``tail_types``: the declared types
        of their last nodes' first outputs, where looked up already) once per distinct signature."""
        price = self.layer_cost
        members = list(map(planned.__getitem__, where))
        columns = [list(map(itemgetter(j), members)) for j in range(len(members[0]))]
        inputs = [list(map(_inputs_of, column)) for column in columns]
        outputs = [list(map(_outputs_of, column)) for column in columns]
        # Each member's op and its numbers of inputs and outputs, position by position: the signature's columns
        # are read at fixed positions, so layers whose members differ there are signed apart.
        forms = list(zip(*(map(_op_of, column) for column in columns),
                         *(map(len, names) for names in (*inputs, *outputs)), strict=True))
        if forms.count(forms[0]) != len(forms):
            split: dict[tuple[object, ...], list[int]] = {}
            for i, form in zip(where, forms, strict=True):
                split.setdefault(form, []).append(i)
            for part in split.values():
                if len(part) < _SHARED_FROM:
                    for i in part:
                        costs[i] = price(layers[i], planned[i], True)
                else:
                    self._price_alike(part, layers, planned, costs)
            return
        keys: list[tuple[object, ...]] | None
        try:
            keys = self._signatures(forms[0], columns, inputs, outputs, tail_types)
        except (UserError, TypeError, ValueError):
            # An attribute or a Constant that does not decode: priced one by one, which raises where it did
            # before (or not, where a layer's price stopped at an unknown size first).
            keys = None
        if keys is None:
            for i in where:
                costs[i] = price(layers[i], planned[i], True)
            return
        dims = self._one_graph().shapes.dims
        convolutions = [j for j, column in enumerate(columns) if column[0].op in ("Conv", "ConvTranspose")]
        priced: dict[tuple[object, ...], object] = {}
        for key, k in dict(zip(reversed(keys), range(len(keys) - 1, -1, -1), strict=True)).items():
            nodes = members[k]
            if not all(_group_told(nodes[j], dims) for j in convolutions):
                priced[key] = _MISSING  # the group comes from the attribute: each such layer priced on its own
            else:
                priced[key] = price(layers[where[k]], nodes, True)
        found = list(map(priced.__getitem__, keys))
        if _MISSING not in priced.values():
            deque(map(costs.__setitem__, where, found), maxlen=0)  # each layer's cost set in C
            return
        for i, cost in zip(where, found, strict=True):
            costs[i] = price(layers[i], planned[i], True) if cost is _MISSING else cost  # type: ignore[assignment]

    def _signatures(self, form: tuple[object, ...], columns: list[list[Node]], inputs: list[list[tuple[str, ...]]],
                    outputs: list[list[tuple[str, ...]]], tail_types: list[object] | None) -> list[tuple[object, ...]]:
        """For each layer of one form (the members' ops, numbers of inputs and outputs), a tuple of everything
        its price depends on, each column computed for all layers at once: which of its slots name the same
        tensor (its wiring, repeated reads), each tensor's declared type (by identity: one shared tuple per
        distinct type, giving its count and dims), whether it is a weight or 8-bit and its initializer's size,
        the graph's shape where no declared one tells, whether each output is written, and the attributes the
        work reads (a pool's kernel, a Gemm's transA, a recurrent layout)."""
        size = len(columns)
        ops = form[:size]
        roles = [self.roles[op] if op in self.roles else self._role(op) for op in ops]  # type: ignore[index]
        writes = [(j, k, list(map(itemgetter(k), outputs[j]))) for j in range(size)
                  for k in range(form[2 * size + j])]  # type: ignore[call-overload]
        reads = [(j, i, list(map(itemgetter(i), inputs[j]))) for j in range(size)
                 for i in range(form[size + j])]  # type: ignore[call-overload]
        slots = [names for _, _, names in writes] + [names for _, _, names in reads]
        if not slots:
            return [()] * len(columns[0])
        rows = list(zip(*slots, strict=True))
        # The wiring: each slot's tensor as the first slot naming it (outputs first, so an input read inside
        # names an output). Commonly every layer is wired as the first: it names as many distinct tensors,
        # and its slots that name one tensor in the first do so too. Else each layer's wiring is signed.
        first = rows[0]
        wiring = list(map(first.index, first))
        signature: list[list[object]] = []
        if list(map(len, map(set, rows))).count(len(set(first))) == len(rows) and all(
                False not in map(eq, slots[s], slots[f]) for s, f in enumerate(wiring) if f != s):
            earliest = wiring
            inside: list[Iterable[int]] = [repeat(wiring[len(writes):].count(s) if size > 1 else 0)
                                           for s in range(len(writes))]
        else:
            wirings = [list(map(tuple.index, rows, names)) for names in slots]
            signature += wirings[1:]
            earliest = list(map(max, wirings))
            in_rows = list(zip(*(names for _, _, names in reads), strict=True)) if reads and size > 1 else None
            inside = [repeat(0) if in_rows is None else map(tuple.count, in_rows, names) for _, _, names in writes]
        # Equal names have equal columns: a slot needs none of its own where it always names an output (whose
        # columns tell its shape in full) or, when only its bytes count, an earlier input.
        facts = self._one_graph()
        graph, nodes = facts.graph, facts.nodes
        members = list(zip(*columns, strict=True)) if size > 1 else None
        for s, (j, k, names) in enumerate(writes):
            if earliest[s] == s:
                known = tail_types if j == size - 1 and k == 0 else None
                if known is None and k == 0 and nodes is not None:
                    known = nodes.out_types(columns[j])
                signature += self._tensor_columns(names, True, False, known)
                readers = nodes.out_readers(columns[j]) if k == 0 and nodes is not None else None
                signature.append(self._written(names, inside[s], members, graph, readers))
        for s, (j, i, names) in enumerate(reads, len(writes)):
            dims = i < _dims_read(ops[j], roles[j])  # type: ignore[arg-type]
            if earliest[s] >= len(writes) and (dims or earliest[s] == s):
                signature += self._tensor_columns(names, dims, True, None if i or nodes is None else nodes.in_types(
                    columns[j]))
        for j, column in enumerate(columns):
            if roles[j] == _POOL:
                signature.append([math.prod(node.attr("kernel_shape") or ()) for node in column])
            elif roles[j] == _RECURRENT:
                signature.append([node.attr("layout", 0) for node in column])
            elif ops[j] == "Gemm" and roles[j] == _MATRIX:
                signature.append([node.attr("transA", 0) for node in column])
        return list(zip(*signature, strict=True))

    def _tensor_columns(self, names: list[str], dims: bool, read: bool,
                        declared: list[object] | None = None) -> list[list[object]]:
        """The signature columns of one slot's tensors (``dims``: the work reads their dims; ``read``: an input,
        whose bytes depend on whether it is a weight or 8-bit): whether each is a weight, its declared type
        (by identity) and its initializer's size where its price may depend on them, and the graph's shape of
        a tensor whose declared type tells neither its count nor its dims that are read ("" for an absent one).
        A column of weights with known sizes is priced by those alone: no type is looked up for it. ``declared``:
        the tensors' declared types, where looked up already."""
        facts = self._one_graph()
        shapes = facts.shapes
        columns: list[list[object]] = []
        sizes: list[int | None] | None = None
        initializers = facts.graph.initializers
        if read and facts.graph.initializers_constant and names[0] in initializers:  # else not a slot of weights
            keys = initializers.dims_keys(names)
            if keys is not None and None not in keys:
                # Every one an initializer, which no node overwrites: a weight, not 8-bit, its bytes and dims told
                # by its dims (equal dims, equal keys): one column, one lookup each. Layers whose weights
                # differ in dims but not in size are signed apart, and each priced alike.
                if not dims:
                    return [keys]  # type: ignore[list-item]
                if declared is None:
                    declared = shapes.declared(names)
                if declared.count(None) == len(declared):
                    return [keys]  # type: ignore[list-item]
        if read:
            weight = list(map(facts.weights.__contains__, names))
            columns.append(weight)
            if facts.eight_bit:
                columns.append(list(map(facts.eight_bit.__contains__, names)))
            if True in weight:  # a weight's bytes come from its initializer's size where it has one
                sizes = shapes.weight_counts(names)
                columns.append(sizes)
                if not dims and False not in weight and None not in sizes:
                    return columns
        if declared is None:
            declared = shapes.declared(names)
        ids = list(map(id, declared))
        columns.append(ids)
        if read and sizes is None and None in declared:  # an undeclared activation's count: its initializer's
            sizes = shapes.weight_counts(names)
            columns.append(sizes)
        # Declared without a shape: the dims are the graph's (an initializer's, a Constant's).
        shapeless = dims and None in map(_second, filter(None, declared))
        if None in declared or shapeless:
            shape = facts.graph.shape
            columns.append([(shape(name) if name else "") if (type_ is None and (dims or n is None)) or (
                shapeless and type_ is not None and type_[1] is None) else None  # type: ignore[index]
                for name, type_, n in zip(names, declared, sizes or repeat(None, len(names)), strict=True)])
        return columns

    def _written(self, names: list[str], inside: Iterable[int], members: list[tuple[Node, ...]] | None,
                 graph: Graph, readers: list[int] | None = None) -> list[object]:
        """Whether each layer writes its output ``names`` to memory, decided as layer_cost decides it: a network
        output, or a tensor with more readers than reads inside the layer (``inside``: each layer's count of
        them; ``readers``: each tensor's number of reads, where known already), confirmed one by one
        (_read_outside) where the build removed nodes."""
        rget = graph.readers.get
        if readers is None:
            readers = list(map(len, map(rget, names, repeat(_NO_READERS))))
        more = list(map(ne, readers, inside))
        facts = self._one_graph()
        outputs = frozenset(graph.outputs)
        network = [False] * len(names) if outputs.isdisjoint(names) else list(map(outputs.__contains__, names))
        if (facts.reads_counted and not self.eliminated) or True not in more:
            return list(map(or_, network, more))
        # More readers than reads inside: a reader outside, which makes the layer write the tensor unless it is a
        # node the build removed. Only a tensor some removed node reads is confirmed one by one.
        doubtful = list(map(facts.removed_reads.__contains__, names)) if facts.reads_counted else [True] * len(names)
        return [out or (extra and (not doubt or self._read_outside(
            rget(name, _NO_READERS), frozenset(members[k]) if members else _NO_MEMBERS, graph)))
                for k, (name, out, extra, doubt) in enumerate(zip(names, network, more, doubtful, strict=True))]

    def _nodes_of(self, layer: PredictedLayer) -> list[Node]:
        """A layer's nodes, for a prediction made without the plan's node lists: its names mapped back."""
        if self._by_name is None:
            self._by_name = self.graph.nodes_by_name_deep()
        return list(filter(None, map(self._by_name.get, layer.nodes)))

    def layer_cost(self, layer: PredictedLayer, members: list[Node] | None = None,
                   tail_known: bool = False) -> LayerCost | None:
        """Bytes: what the layer reads from outside (weights once) and what is read outside it; nodes
        with no layer were eliminated (their outputs are folded constants, their reads cost nothing).
        FLOPs: each node's own arithmetic. ``members``: the layer's nodes, when the plan kept them;
        ``tail_known``: the last node's first output is known to have a size (_price_known tested it for its group)."""
        if members is None:
            members = self._nodes_of(layer)
        if not members:
            return None
        if layer.kind == "shuffle" and self.noop_shuffles.issuperset(layer.ops):
            return _NOOP  # a reshape only: a NoOp layer in the engine, no data moved ([platform] noop_shuffle_ops)
        tail = members[-1]
        facts = self.facts[id(tail.graph)]  # a layer's nodes are all of one graph
        if not tail_known and tail.outputs and tail.outputs[0] and facts.shapes.count(tail.outputs[0]) is None:
            return None  # the common unknown case (a symbolic batch), answered at once
        quantized = not _QDQ_OPS.isdisjoint(layer.ops)
        math_ = self.maths[quantized]
        if CONCAT_REMOVAL in layer.fusions and len(members) == 1:
            return self._copy_cost(layer, members[0], facts, math_)
        if len(members) >= _LARGE:
            return self._large_layer_cost(layer, members, facts, math_, quantized)
        graph, shapes = facts.graph, facts.shapes
        count = shapes.count
        float_bytes = math_.float_bytes
        readers, graph_output = graph.readers, graph.is_graph_output
        # Tensors made inside the layer stay on chip unless read outside it; a tensor read only by
        # the layer's own nodes is recognised by counting (its reader list holds one entry per read).
        inside: set[str] | frozenset[str] = _NOTHING
        internal_reads: dict[str, int] = {}
        member_set: set[Node] | frozenset[Node] = _NO_MEMBERS  # a lone node never reads its own output
        if len(members) > 1:
            member_set = frozenset(members)
            inside = {t for node in members for t in node.outputs}
            get = internal_reads.get
            for node in members:
                for t in node.inputs:
                    if t in inside:
                        internal_reads[t] = get(t, 0) + 1
        # The layer's reads from memory, each once: weights (initializers, Constant and folded outputs) at
        # the weights' width, activations at theirs. An activation of unknown size makes the cost unknown,
        # decided after the nodes' work as when the reads were summed apart.
        seen: set[str] = set()
        weights, eight_bit, weight_count = facts.weights, facts.eight_bit, shapes.weight_count
        weight_bytes = 1 if quantized else float_bytes
        read = 0
        unknown_read = False
        roles = self.roles
        flops = written = steps = 0
        tensor_flops = cuda_flops = 0.0
        shape_inputs = self.shape_inputs
        # With no node removed by the build and no body's reads among the readers, more readers than reads
        # inside means a node outside reads the tensor: no need to look at who they are.
        counted = facts.reads_counted and not self.eliminated
        for node in members:
            op = node.op
            skip = shape_inputs.get(op, ())
            for i, tensor in enumerate(node.inputs):
                if tensor and tensor not in inside and i not in skip and tensor not in seen:
                    seen.add(tensor)
                    if tensor in weights:
                        n = weight_count(tensor)
                        if n is None:  # a Constant's or folded node's output
                            n = count(tensor)
                        read += (n or 0) * weight_bytes
                        continue
                    n = count(tensor)
                    if n is None:
                        unknown_read = True
                    else:
                        read += n * (1 if tensor in eight_bit else float_bytes)
            out = 0
            for k, tensor in enumerate(node.outputs):
                if not tensor:
                    continue
                n = count(tensor)
                if k == 0:
                    if n is None:
                        return None
                    out = n
                here = readers.get(tensor, _NO_READERS)
                if graph_output(tensor) or (len(here) != internal_reads.get(tensor, 0) and (
                        counted or self._read_outside(here, member_set, graph))):
                    if n is None:  # an output nobody reads (BatchNormalization's statistics) costs nothing
                        return None
                    written += n * (1 if op == "QuantizeLinear" else float_bytes)
            how = roles[op] if op in roles else self._role(op)
            if how == _PLAIN:
                flops += out
                cuda_flops += out
                continue
            work, more_steps = self._node_work(node, how, out, shapes, quantized, math_)
            if work is None:
                return None
            flops += work.flops
            tensor_flops += work.tensor_flops
            cuda_flops += work.cuda_flops
            steps += more_steps
        if unknown_read:
            return None
        return self._time(layer.kind, flops, tensor_flops, cuda_flops, read + written, math_, steps)

    def _read_outside(self, readers: Iterable[Node], members: set[Node] | frozenset[Node], graph: Graph) -> bool:
        """Whether a tensor with these readers is read outside the layer of ``members``, so the layer writes it
        to memory: by a layer of its own, or through a node the build removed but whose output is the same
        data (an Identity, a same-type Cast, a multiplication by one, a no-op reshape) when that output
        reaches a layer outside or is a network output. A removed node that only computes shapes, or folds
        at build time, does not make the data leave the layer."""
        eliminated = self.eliminated
        for reader in readers:
            if reader in members:
                continue
            if reader.name not in eliminated or self._hands_on(reader, members, graph):
                return True
        return False

    def _hands_on(self, node: Node, members: set[Node] | frozenset[Node], graph: Graph) -> bool:
        """Whether what removed ``node`` outputs is read as data by a layer outside ``members`` (or is a
        network output), looking through further removed nodes (each once: a hostile graph can fan out)."""
        eliminated, shape_inputs = self.eliminated, self.shape_inputs
        pending, seen = [node], {node}
        while pending:
            for out in pending.pop().outputs:
                if not out:
                    continue
                if graph.is_graph_output(out):
                    return True
                for reader in graph.readers.get(out, _NO_READERS):
                    if reader in members or reader in seen:
                        continue
                    if reader.name in eliminated:
                        seen.add(reader)
                        pending.append(reader)
                        continue
                    skip = shape_inputs.get(reader.op, ())
                    positions = [i for i, name in enumerate(reader.inputs) if name == out]
                    if not positions or any(i not in skip for i in positions):
                        return True  # read as data, not as a shape (a body's outer-scope read counts as data)
        return False

    def _copy_cost(self, layer: PredictedLayer, concat: Node, facts: _GraphFacts, math_: _Math) -> LayerCost | None:
        """A Concat TensorRT removed, left as the Reformat layer that copies the inputs no layer writes in
        place (plan/passes/concat.py): it reads and writes those inputs once, and nothing else."""
        kind_of = self._kind_of
        if kind_of is None:
            layers = self.prediction.layers
            held = zip(layers, self.planned or map(self._nodes_of, layers), strict=True)
            kind_of = self._kind_of = {node: lay.kind for lay, nodes in held for node in nodes}
        producers, readers, count = facts.graph.producers, facts.graph.readers, facts.shapes.count
        traffic = 0
        for tensor in concat.inputs:
            others = (kind_of.get(r) for r in readers.get(tensor, ()) if r is not concat)
            if tensor and (later_concat(concat, readers.get(tensor, ())) is not None or copied_input(
                    kind_of.get(producers.get(tensor)), others, self.copied_kinds, self.unstrided_kinds)):  # type: ignore[arg-type]
                n = count(tensor)
                if n is None:
                    return None
                traffic += 2 * n * math_.float_bytes
        return self._time(layer.kind, 0, 0.0, 0.0, traffic, math_)

    def _large_layer_cost(self, layer: PredictedLayer, members: list[Node], facts: _GraphFacts, math_: _Math,
                          quantized: bool) -> LayerCost | None:
        """The same sums for a layer of many nodes (a Myelin region), with set and counting operations
        over all its tensors at once instead of one test per input. Shape inputs are not told apart
        here: they are small constants."""
        graph, shapes = facts.graph, facts.shapes
        count = shapes.count
        float_bytes = math_.float_bytes
        weight_bytes = 1 if quantized else float_bytes
        producers = graph.producers
        outs = list(map(_outputs_of, members))
        inside = set(chain.from_iterable(outs))
        member_set = set(members)
        # Which tensors made inside are written out. A region holding most of the graph asks the few nodes
        # outside it what they read; a smaller one compares each tensor's reader count with its reads
        # inside (a node with a body also reads what its body reads: those graphs take the second way).
        complement = 2 * len(member_set) > len(graph.nodes) and not graph.has_bodies()
        if complement:  # the reads not made inside, without a set of every read first
            outside = set(filterfalse(inside.__contains__, chain.from_iterable(map(_inputs_of, members))))
        else:
            reads = Counter(chain.from_iterable(map(_inputs_of, members)))
            outside = reads.keys() - inside
        outside.discard("")
        # Weights (nearly every outside tensor of a large region) in C-level passes: initializers from the
        # one sweep of their sizes, the few others (Constant and folded outputs) asked for one by one.
        if graph.initializers_constant:  # every initializer is a weight: the one lookup of its size tells
            initialized, rest = graph.initializers.total_count(list(outside))
            activations = [t for t in rest if t not in facts.weights]  # the few not made inside
            others = [t for t in rest if t in facts.weights]
        else:  # the activations split off in one set difference; what stays are the weights
            activations = outside.difference(facts.weights)  # type: ignore[assignment]
            outside -= activations  # type: ignore[arg-type]
            sizes = shapes.weight_counts(outside)
            initialized = sum(filter(None, sizes))  # type: ignore[arg-type]
            others = list(compress(outside, map(is_, sizes, repeat(None)))) if None in sizes else []
        read = facts.read_bytes(activations, weight_bytes, float_bytes)
        if read is None:
            return None
        traffic = read + (initialized + sum(filter(None, shapes.counts(others)))) * weight_bytes
        rget, graph_outputs = graph.readers.get, graph.outputs
        if complement:
            # Candidates: what any node outside reads (an eliminated one may hand its input on); the
            # check below keeps those a layer outside really reads.
            readers_outside = filterfalse(member_set.__contains__, graph.nodes)
            written = list(inside.intersection(chain.from_iterable(map(_inputs_of, readers_outside))))
        else:
            made = list(inside)
            reader_counts = map(len, map(rget, made, repeat(_NO_READERS)))
            written = list(compress(made, map(ne, reader_counts, map(reads.__getitem__, made))))
        written += [t for t in graph_outputs if t in inside and t not in written]
        for tensor in written:
            if tensor and (graph.is_graph_output(tensor) or self._read_outside(
                    rget(tensor, _NO_READERS), member_set, graph)):
                n = count(tensor)
                if n is None:
                    return None
                traffic += n * (1 if producers[tensor].op == "QuantizeLinear" else float_bytes)
        # Plain nodes (pointwise, shuffles, ...) count one operation per output element: their
        # counts are looked up in one C-level map; the others are summed by kind.
        ops = list(map(_op_of, members))
        for op in set(ops) - self.roles.keys():
            self._role(op)
        roles = list(map(self.roles.__getitem__, ops))
        # looked up once for the plain nodes' sum and the others' kinds; by node position where the child sent them,
        # with a small key per distinct type (the names then read only where needed)
        plain_ones = list(map(not_, roles))  # _PLAIN is 0
        firsts: list[str] | None = None
        if facts.nodes is None:
            first_keys = None
            firsts = _first_outputs(outs)
            first_types = shapes.declared(firsts)
        else:
            first_keys = facts.nodes.out_keys(members)
            first_types = facts.nodes.types_of(first_keys)
            kinds = Counter(compress(first_keys, plain_ones))
        if first_keys is None or _UNDECLARED in kinds:  # an undeclared output is counted by its name
            firsts = firsts or _first_outputs(outs)
            plain = shapes.total(compress(firsts, plain_ones), list(compress(first_types, plain_ones)))
        else:
            plain = shapes.total_of_kinds(facts.nodes.types_of(kinds), kinds.values())  # type: ignore[union-attr]
        if plain is None:
            return None
        flops = plain
        work = self._rest_work(members, ops, roles, firsts, first_types, first_keys, facts, quantized, math_)
        if work is None:
            return None
        more_flops, tensor_flops, more_cuda_flops, steps = work
        return self._time(layer.kind, flops + more_flops, tensor_flops, float(flops) + more_cuda_flops, traffic,
                          math_, steps)

    def _rest_work(self, members: list[Node], ops: list[str], roles: list[int], firsts: list[str] | None,
                   first_types: list[object], first_keys: list[int] | None, facts: _GraphFacts, quantized: bool,
                   math_: _Math) -> tuple[int, float, float, int] | None:
        """(FLOPs, tensor-core FLOPs, CUDA-core FLOPs, sequential steps) of a region's nodes that are not plain.

        A MatMul's work depends only on its first input's and its output's shapes, a per-input node's
        (LayerNorm, Softmax) only on its op and those shapes too: the region's thousands are a few kinds,
        each priced once and counted. Kinds are counted by the identity of the declared types (shared
        tuples) in C, then merged by value. The others (a Conv reads its weights' shape, a pool its
        attributes) and any node without declared shapes are priced one by one."""
        # The nodes that are not plain (role 0), each with its role, first input and first output.
        nodes = list(compress(members, roles))
        how_of = list(compress(roles, roles))
        shapes = facts.shapes
        tails = _FirstNames(nodes, _outputs_of) if firsts is None else list(compress(firsts, roles))
        tail_types = list(compress(first_types, roles))
        keys: list[tuple[str, int, int]]
        if first_keys is None:  # no facts from the shape-inference child: by name
            heads: _FirstNames | list[str] = _first_outputs(list(map(_inputs_of, nodes)))
            head_types = shapes.declared(heads)
            keys = list(zip(compress(ops, roles), map(id, head_types), map(id, tail_types), strict=True))
        else:  # by node position, the types' keys small numbers; a first input read only where it stands for its kind
            head_keys = facts.nodes.in_keys(nodes)
            heads, head_types = _FirstNames(nodes, _inputs_of), facts.nodes.types_of(head_keys)
            keys = list(zip(compress(ops, roles), head_keys, compress(first_keys, roles), strict=True))
        first_of = dict(zip(reversed(keys), range(len(keys) - 1, -1, -1), strict=True))
        kinds: dict[tuple[object, ...], list[int]] = {}  # (op, types) -> [first position, nodes]
        alone: set[tuple[str, int, int]] = set()
        for key, times in Counter(keys).items():
            k = first_of[key]
            how, a, b = how_of[k], head_types[k], tail_types[k]
            if (how == _PER_INPUT or (how == _MATRIX and key[0] == "MatMul")) and heads[k] and tails[k] and \
                    a is not None and b is not None and a[1] is not None and b[1] is not None:  # type: ignore[index]
                kind = kinds.setdefault((key[0], a, b), [k, 0])
                kind[1] += times
            else:
                alone.add(key)
        flops = steps = 0
        tensor_flops = cuda_flops = 0.0
        for k, times in kinds.values():
            work, _ = self._node_work(nodes[k], how_of[k], shapes.count(tails[k]), shapes, quantized, math_)
            if work is None:
                return None
            flops += times * work.flops
            tensor_flops += times * work.tensor_flops
            cuda_flops += times * work.cuda_flops
        for k in (compress(range(len(keys)), map(alone.__contains__, keys)) if alone else ()):
            work, more_steps = self._node_work(nodes[k], how_of[k], shapes.count(tails[k]), shapes, quantized, math_)
            if work is None:
                return None
            flops += work.flops
            tensor_flops += work.tensor_flops
            cuda_flops += work.cuda_flops
            steps += more_steps
        return flops, tensor_flops, cuda_flops, steps


_LARGE = 64  # members from which a layer is summed with set operations
_SHARED_FROM = 4  # layers of one kind, ops and fusions from which they are priced by signature
_PLAIN, _MATRIX, _POOL, _PER_INPUT, _RECURRENT = range(5)
_NOTHING: frozenset[str] = frozenset()
_UNDECLARED = 0  # the key NodeFacts gives a tensor with no declared type
_NOOP = LayerCost(0, 0, 0.0, "memory")  # a NoOp layer: TensorRT runs no kernel for it
_NO_MEMBERS: frozenset[Node] = frozenset()
_NO_READERS: list[Node] = []
_kind_of_layer = attrgetter("kind")
_ops_of_layer = attrgetter("ops")
_fusions_of_layer = attrgetter("fusions")
_op_of = attrgetter("op")
_outputs_of = attrgetter("outputs")
_inputs_of = attrgetter("inputs")
_first = itemgetter(0)
_second = itemgetter(1)
_last = itemgetter(-1)


def _dims_read(op: str, role: int) -> int:
    """How many leading inputs' shapes a node's work reads (_node_work): a matrix or recurrent node's dims, a
    per-input node's first input's count (by its declared type, even for a weight); a plain or pooling node
    reads only its output's."""
    if role == _RECURRENT:
        return 3
    if role == _MATRIX:
        return 2 if op == "Attention" or op in ("Conv", "ConvTranspose") else 1  # as _matrix_work reads them
    return 1 if role == _PER_INPUT else 0


def _group_told(node: Node, dims: Callable[[str], Shape | None]) -> bool:
    """Whether a convolution's work is told by its shapes alone: its group comes from its channels
    (_group_of_shapes), or its work reads no group at all (no weights, no output)."""
    inputs = node.inputs
    if len(inputs) < 2 or not node.outputs:
        return True
    return _group_of_shapes(node.op, dims(inputs[0]), dims(inputs[1]), dims(node.outputs[0])) is not None


class _FirstNames:
    """Each node's first input or output (``names_of``: _inputs_of or _outputs_of; "" for a node without one),
    read when asked."""

    __slots__ = ("_names_of", "_nodes")

    def __init__(self, nodes: list[Node], names_of: Callable[[Node], tuple[str, ...]]) -> None:
        self._nodes = nodes
        self._names_of = names_of

    def __getitem__(self, k: int) -> str:
        names = self._names_of(self._nodes[k])
        return names[0] if names else ""


def _first_outputs(outs: list[tuple[str, ...]]) -> list[str]:
    """Each node's first output (or input: "" for a node without one), in C when every node has one."""
    if all(outs):
        return list(map(_first, outs))
    return [o[0] if o else "" for o in outs]


class _Shapes:
    """Shapes and element counts of one graph's tensors for a pass that reads nearly all of them: types
    decoded in bulk, each distinct declared type's count computed once, looked up per tensor in C."""

    __slots__ = ("_graph", "_others", "_per_type", "_per_type_get", "_types", "_types_get")

    def __init__(self, graph: Graph) -> None:
        graph.decode_all_types()
        self._graph = graph
        types = self._types = graph.tensor_types
        self._types_get = types.get
        # The decoded types share one tuple per distinct type: each distinct one's count is computed once,
        # when first met, keyed by the tuple's identity (the types map holds them for the whole pass), so no
        # lookup hashes a shape and no pass goes over every declared type up front.
        self._per_type: dict[int, int | None] = {}
        self._per_type_get = self._per_type.get
        self._others: dict[str, int | None] = {}  # undeclared tensors (Constant outputs), asked once

    def dims(self, tensor: str) -> Shape | None:
        declared = self._types_get(tensor)
        if declared is not None and declared[1] is not None:
            return declared[1]
        return self._graph.shape(tensor)  # weights and Constant outputs

    def count(self, tensor: str) -> int | None:
        found = self._per_type_get(id(self._types_get(tensor)), _MISSING)
        if found is _MISSING:
            declared = self._types_get(tensor)
            return self._undeclared(tensor) if declared is None else self._type_count(declared)
        return found  # type: ignore[return-value]

    def declared(self, tensors: Sequence[str]) -> list[object]:
        """The declared types of many tensors (one shared tuple per distinct type; None when undeclared)."""
        return list(map(self._types_get, tensors))

    def counts(self, tensors: Sequence[str], declared: list[object] | None = None) -> list[int | None]:
        """Counts of many tensors (of declared types ``declared``, where looked up already), looked up in C;
        the rare undeclared one is asked for on its own."""
        if declared is None:
            declared = list(map(self._types_get, tensors))
        found = list(map(self._per_type_get, map(id, declared), repeat(_MISSING)))
        if _MISSING in found:
            self._learn(declared)
            found = list(map(self._per_type_get, map(id, declared), repeat(_MISSING)))
            if _MISSING in found:
                found = [self._undeclared(t) if n is _MISSING else n for n, t in zip(found, tensors, strict=True)]
        return found  # type: ignore[return-value]

    def total_of_kinds(self, declared: Iterable[object], times: Iterable[int]) -> int | None:
        """The sum of the counts of tensors of the declared types ``declared`` (none of them None), ``times`` of
        each (None when one has an unknown size)."""
        total = 0
        for type_, many in zip(declared, times, strict=True):
            n = self._type_count(type_)
            if n is None:
                return None
            total += n * many  # type: ignore[operator]
        return total

    def total(self, tensors: Iterable[str], declared: list[object] | None = None) -> int | None:
        """The sum of many tensors' counts (None when one is unknown): the tensors are counted by the
        identity of their declared types (``declared``, where looked up already) in C, each distinct type's
        count then taken so many times."""
        tensors = list(tensors)
        if declared is None:
            declared = list(map(self._types_get, tensors))
        times = Counter(map(id, declared))
        if not times.keys() <= self._per_type.keys():
            self._learn(declared, times.keys() - self._per_type.keys())
        per_type_get = self._per_type_get
        total = 0
        for key, many in times.items():
            n = per_type_get(key, _MISSING)
            if n is _MISSING:  # undeclared tensors (Constant outputs): counted one by one
                found = self.counts(tensors)
                return None if None in found else sum(found)  # type: ignore[arg-type]
            if n is None:
                return None
            total += n * many
        return total

    def _type_count(self, declared: object) -> int | None:
        """The element count of one declared type (not None), computed when first met."""
        n = self._per_type_get(id(declared), _MISSING)
        return self._learn([declared], {id(declared)}) if n is _MISSING else n  # type: ignore[return-value]

    def _learn(self, declared: list[object], missing: set[int] | None = None) -> int | None:
        """Count the declared types among ``declared`` not met before (``missing``: their identities, where
        known), scanning only until the last of them is found; the last one counted is returned."""
        per_type = self._per_type
        if missing is None:
            missing = set(map(id, declared)) - per_type.keys()
        missing.discard(id(None))
        n = None
        for type_ in declared:
            if missing and id(type_) in missing:
                n = per_type[id(type_)] = _count(type_[1])  # type: ignore[index]
                missing.discard(id(type_))
                if not missing:
                    break
        return n

    def _undeclared(self, tensor: str) -> int | None:
        if not tensor:
            return 0  # an absent optional tensor (a node with no output) holds nothing
        n = self.weight_count(tensor)
        if n is not None:
            return n
        found = self._others.get(tensor, _MISSING)
        if found is _MISSING:
            found = self._others[tensor] = _count(self._graph.shape(tensor))
        return found  # type: ignore[return-value]

    def weight_counts(self, tensors: Iterable[str]) -> list[int | None]:
        """The element counts of many tensors' initializers (None for a tensor that is no initializer)."""
        return self._graph.initializers.counts_of(tensors)

    def weight_count(self, tensor: str) -> int | None:
        """The element count of a tensor's initializer (None when it is no initializer)."""
        return self._graph.initializers.count_of(tensor)


_MISSING = object()
_UNSHARED = _NodeWork(0, 0.0, 0.0)  # a convolution key whose work is not shared (see _Pricer._matrix)


def _rates(kind: str, math_: _Math, gpu: GpuPerf, perf: PerfBook) -> tuple[float, float, float]:
    """The roofline's denominators for one layer kind: tensor-core and CUDA-core FLOP/s and bytes/s, each
    a datasheet peak times the kind's fitted efficiency. A layer's time is ``max(compute, memory) +
    overhead``: compute its tensor-core FLOPs over the first plus its CUDA-core FLOPs over the second,
    memory its bytes over the third."""
    return (gpu.peaks[math_.peak] * 1e12 * perf.kind_efficiency(kind).compute,
            gpu.peaks["fp32_cuda"] * 1e12 * perf.cuda_core, _memory_rate(kind, gpu, perf))


def _memory_rate(kind: str, gpu: GpuPerf, perf: PerfBook) -> float:
    """Bytes per second a layer of ``kind`` moves: the GPU's bandwidth times the kind's memory efficiency."""
    return gpu.bandwidth_gbs * 1e9 * perf.kind_efficiency(kind).memory


def _element_bytes(graph: Graph, tensor: str, producer: Node | None, weight: bool, quantized: bool,
                   float_bytes: int) -> int:
    if producer is not None and producer.op == "QuantizeLinear":
        return 1
    if weight:
        return 1 if quantized or graph.dtype(tensor) in _INT8_TYPES else float_bytes
    return float_bytes


# Bytes per element of the types a boundary reformat converts between (advice/reformats.py names them).
_TYPE_BYTES = {"fp32": 4, "tf32": 4, "fp16": 2, "bf16": 2, "int8": 1, "fp8": 1}


def reformat_costs(reformats: Sequence[dict[str, Any]], graph: Graph, target: Target,
                   book: RuleBook) -> list[LayerCost | None]:
    """The cost of each boundary reformat a weakly typed reduced-precision build adds (advice/reformats.py):
    it reads the network input or output in one type and writes it in the other, once, at the memory
    roofline of a 'reformat' layer. None where the tensor's shape is unknown or the GPU has no figures."""
    gpu = gpu_perf(book, target)
    if gpu is None:
        return [None] * len(reformats)
    perf = perf_book(book)
    rate = _memory_rate("reformat", gpu, perf)
    costs: list[LayerCost | None] = []
    for entry in reformats:
        count = _count(graph.shape(str(entry.get("tensor", ""))))
        width = _TYPE_BYTES.get(str(entry.get("from"))), _TYPE_BYTES.get(str(entry.get("to")))
        if count is None or None in width:
            costs.append(None)
            continue
        traffic = count * (width[0] + width[1])  # type: ignore[operator]
        costs.append(LayerCost(0, traffic, 1e3 * traffic / rate + perf.overhead_ms, "memory"))
    return costs


def extra_pass_cost(tensors: Iterable[str], graph: Graph, target: Target, book: RuleBook,
                    kind: str = "pointwise") -> tuple[int, float] | None:
    """(bytes, ms) of writing and reading back ``tensors`` once more: what an unfused epilogue costs.
    None when a shape is unknown or the GPU has no figures."""
    gpu = gpu_perf(book, target)
    if gpu is None:
        return None
    perf = perf_book(book)
    float_bytes = 4 if target.precision in ("fp32", "tf32", "int8") else 2
    total = 0
    for tensor in tensors:
        count = _count(graph.shape(tensor))
        if count is None:
            return None
        total += 2 * count * _element_bytes(graph, tensor, graph.producer(tensor), False, False, float_bytes)
    if not total:
        return None
    ms = 1e3 * total / _memory_rate(kind, gpu, perf)
    return total, ms


def _crossing_tensors(held: set[int], by_name: dict[str, Node], layer_of: dict[str, int],
                      layers: Sequence[PredictedLayer]) -> list[str]:
    """Tensors that flow between the layers in ``held``: the memory pass a missed fusion leaves."""
    crossing = []
    for index in held:
        for name in layers[index].nodes:
            node = by_name.get(name)
            if node is None:
                continue
            for tensor in node.outputs:
                if tensor and any(layer_of.get(r.name, index) != index and layer_of.get(r.name) in held
                                  for r in node.graph.consumers(tensor)):
                    crossing.append(tensor)
    return crossing


def cost_missed_fusions(findings: list[Finding], graph: Graph, prediction: Prediction, estimate: CostEstimate,
                        target: Target, book: RuleBook) -> list[Finding]:
    """Each missed-fusion finding (a fusion rule's code, or a rule marked ``priced``) with known shapes, with
    what the miss costs on the target: the extra write and read of the tensors between the layers left
    apart, or, when the finding names a single layer, that layer's own predicted time. A priced rule's
    fix removes layers: one named alone, or every layer of the finding but its first node's."""
    removable = {code for code, rule in book.rules.items() if rule.priced}  # the fix removes the finding's layer
    codes = {spec.code for spec in book.fusions.values()} | removable
    missed = [f for f in findings if f.rule in codes and f.nodes]
    gpu = estimate.gpu
    if not missed or gpu is None:
        return findings
    by_name = graph.nodes_by_name_deep()
    layer_of = {name: i for i, layer in enumerate(prediction.layers) for name in layer.nodes}
    where = f"{gpu.name}{' (assumed for SM ' + str(target.sm) + ')' if gpu.assumed else ''} {target.precision.upper()}"
    priced: dict[int, Finding] = {}
    for finding in missed:
        nodes = [by_name[n] for n in finding.nodes if n in by_name]
        held = {layer_of[n.name] for n in nodes if n.name in layer_of}
        if not held:
            continue
        if len(held) == 1:
            own = estimate.layers[next(iter(held))]
            if own is None:
                continue
            what = "the layer the fix removes" if finding.rule in removable else "the layer left apart"
            ms, note = own.ms, f"{what}: {own.ms:.3g} ms predicted on {where}"
        elif finding.rule in removable:
            # The fix folds the finding's layers into the one holding its first node: the others go.
            kept = layer_of.get(nodes[0].name) if nodes else None
            gone = [estimate.layers[i] for i in sorted(held) if i != kept]
            if not gone or any(cost is None for cost in gone):
                continue
            ms = sum(cost.ms for cost in gone)  # type: ignore[union-attr]
            note = f"the {len(gone)} layer(s) the fix removes: {ms:.3g} ms predicted on {where}"
        else:
            tensors = _crossing_tensors(held, by_name, layer_of, prediction.layers)
            cost = extra_pass_cost(tensors, nodes[0].graph, target, book) if tensors else None
            if cost is None:
                continue
            size, ms = cost
            note = f"unfused, an extra memory pass: {size / 1e6:.3g} MB, {ms:.3g} ms predicted on {where}"
        priced[id(finding)] = replace(finding, cost_ms=float(f"{ms:.4g}"), message=f"{finding.message} [{note}]")
    return [priced.get(id(f), f) for f in findings]
