"""Each predicted layer's precision (``layers[].precision`` in the JSON contract).

The TensorRT facts are rule data: which ops are heavy (rules/ops.toml [group.heavy]), the SM from which TF32
runs and what each --precision aims for in weakly typed mode (rules/trt.toml [precision_support]).

Strongly typed (rules/trt.toml [typing]): a layer runs in the types of its tensors: its convolution
or matrix multiply's output type, else the float type it writes. FP32 convolutions and matrix
multiplies use TF32 math on SM 8.0+ unless --noTF32 (predicted precision ``fp32``) and show as
``tf32``. A Cast layer, or a standalone Q/DQ layer, converts: ``fp32->fp16``, ``fp32->int8``.

Weakly typed (8.x-10.x without --stronglyTyped): TensorRT picks each layer's kernel among the
precisions the flags enable; the prediction shows the one the flags aim for on float layers (FP16
for --fp16, INT8 on convolutions and matrix multiplies for --int8/--best), and the tensor's own
type on integer and boolean layers. Q/DQ-fused layers show their quantized type in both modes.
"""

from __future__ import annotations

from collections.abc import Iterable

from trtadvisor.analysis.dtypes import FLOAT, FLOAT_TYPES, QUANTIZED_TYPES, type_name
from trtadvisor.ir.graph import Node
from trtadvisor.knowledge.rulebook import RuleBook
from trtadvisor.knowledge.target import Target

_CASTS = frozenset({"Cast", "CastLike"})  # ONNX semantics: the ops that convert a tensor's type
_QDQ = frozenset({"QuantizeLinear", "DequantizeLinear"})  # ONNX semantics: the ops that (de)quantize
_NO_OPS: frozenset[str] = frozenset()


class LayerPrecision:
    """Names the precision of layers for one target and the model's tensor types."""

    def __init__(self, target: Target, types: dict[str, int], book: RuleBook) -> None:
        support = book.trt["precision_support"]
        self.types = types
        # op types of a layer -> (their set, whether one is heavy, whether none converts or (de)quantizes)
        self._facts: dict[tuple[str, ...], tuple[frozenset[str], bool, bool]] = {}
        self.heavy = book.op_group("heavy")
        self.strong = target.strong
        self.tf32 = target.precision != "fp32" and (target.sm is None or target.sm >= support["tf32_min_sm"])
        # Weakly typed: (float heavy layers, other float layers) per --precision.
        weak = support["weak_layer_precision"].get(target.precision, ("fp32", "fp32"))
        self.weak = (weak[0], weak[1])
        if not self.tf32 and self.weak[0] == "tf32":
            self.weak = ("fp32", "fp32")

    def _float_name(self, dtype: int, heavy: bool) -> str:
        if not self.strong:
            return self.weak[0] if heavy else self.weak[1]
        if dtype == FLOAT and heavy and self.tf32:
            return "tf32"
        return type_name(dtype) or "fp32"

    def of(self, nodes: list[Node], ops: Iterable[str] | None = None) -> str | None:
        """The layer's precision; ``ops``, the layer's op types when the caller has them (set tests in C
        instead of one pass over the nodes per question)."""
        if not nodes:
            return None
        types = self.types
        cached = type(ops) is tuple  # a layer's ops: hashable, and repeated by many layers
        facts = self._facts.get(ops) if cached else None  # type: ignore[arg-type]
        if facts is None:
            kinds = frozenset(n.op for n in nodes) if ops is None else frozenset(ops)
            heavy = not self.heavy.isdisjoint(kinds)
            plain = "DequantizeLinear" not in kinds and not kinds <= _CASTS and not kinds <= _QDQ
            facts = (kinds, heavy, plain)
            if cached:
                self._facts[ops] = facts  # type: ignore[index]
        kinds, heavy, plain = facts
        if plain:
            # The common case, answered without the conversion and quantization checks below: a layer of
            # ordinary ops (what the end of this method gives it); only a heavy layer has a heavy node to find.
            dtype = _compute_dtype(nodes, types, self.heavy if heavy else _NO_OPS)
            if dtype in FLOAT_TYPES:
                return self._float_name(dtype, heavy)
            return type_name(dtype)
        if kinds <= _CASTS:
            first, last = nodes[0], nodes[-1]
            src = types.get(first.inputs[0], 0) if first.inputs else 0
            dst = types.get(last.outputs[0], 0) if last.outputs else 0
            return f"{type_name(src) or '?'}->{type_name(dst) or '?'}"
        quantized_in = "DequantizeLinear" in kinds and next(
            (types.get(n.inputs[0], 0) for n in _input_dqs(nodes, self.heavy if heavy else frozenset())
             if n.inputs and types.get(n.inputs[0], 0) in QUANTIZED_TYPES
             and (not heavy or not _reads_weight(n, nodes))), 0)
        if kinds <= _QDQ:
            node = nodes[0]
            src = types.get(node.inputs[0], 0) if node.inputs else 0
            dst = types.get(nodes[-1].outputs[0], 0) if nodes[-1].outputs else 0
            return f"{self._named(src)}->{self._named(dst)}"
        if quantized_in:
            return type_name(quantized_in)
        dtype = _compute_dtype(nodes, types, self.heavy)
        if dtype in FLOAT_TYPES:
            return self._float_name(dtype, heavy)
        return type_name(dtype)

    def _named(self, dtype: int) -> str:
        if dtype in FLOAT_TYPES:
            return self._float_name(dtype, False)
        return type_name(dtype) or "?"


def _input_dqs(nodes: list[Node], heavy: frozenset[str]) -> list[Node]:
    """The layer's DQs, then the DQs outside it that its heavy ops read.

    One DQ read by several quantized layers (onnxruntime writes one per tensor, read by a ResNet block's
    first conv and its downsample conv) sits in the first reader's layer only; TensorRT feeds every
    reader the INT8 tensor (the A100 QAT engine: 'layer2.0.conv1 ... Conv_72' and 'layer2.0.downsample ...
    Conv_95' both read the Int8 'onnx::DequantizeLinear_198')."""
    found = [n for n in nodes if n.op == "DequantizeLinear"]
    if not heavy:
        return found
    members = set(nodes)
    for node in nodes:
        if node.op not in heavy or node.graph is None:
            continue
        for name in node.inputs:
            producer = node.graph.producer(name) if name else None
            if producer is not None and producer.op == "DequantizeLinear" and producer not in members \
                    and not _dequantizes_weight(producer):
                found.append(producer)
    return found


def _dequantizes_weight(dq: Node) -> bool:
    """A DQ of a constant, or of a Q of a constant (weights the builder quantizes)."""
    graph = dq.graph
    if graph is None or not dq.inputs or graph.is_constant(dq.inputs[0]):
        return True
    q = graph.producer(dq.inputs[0])
    return q is not None and q.op == "QuantizeLinear" and bool(q.inputs) and graph.is_constant(q.inputs[0])


def _reads_weight(dq: Node, nodes: list[Node]) -> bool:
    """A DQ whose input is a constant (a weight) rather than an activation."""
    graph = dq.graph
    return graph is not None and graph.is_constant(dq.inputs[0])


def _compute_dtype(nodes: list[Node], types: dict[str, int], heavy: frozenset[str]) -> int:
    if heavy:  # an empty set: the caller knows the layer has no heavy node
        for node in nodes:
            if node.op in heavy and node.outputs:
                return types.get(node.outputs[0], 0)
    last = 0
    for node in reversed(nodes):
        for out in node.outputs:
            dtype = types.get(out, 0) if out else 0
            if dtype in FLOAT_TYPES:
                return dtype
            last = last or dtype
    return last
