"""Parameter subgraphs folded into initializers (TRT106's "not a constant", TRT105's pad value).

Old converters compute parameters at run time: a BatchNormalization mean from ``ConstantOfShape``,
a shape from ``Constant`` -> ``Cast`` -> ``Unsqueeze`` chains, a Reshape target from ``Shape`` of a
tensor whose shape is static. TensorRT folds some of that at build time, but a fusion rule that
needs a build-time constant (folding BatchNorm into a convolution, a pad value) sees a tensor.
Each node whose inputs are all constants (or ``Shape``/``Size`` of a static shape) is evaluated
with ONNX's reference implementation at the model's opset, and what the rest of the graph reads
becomes an initializer. Nodes reading a large weight are left alone: folding those would only
copy weights (TensorRT folds them itself).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from trtadvisor.fix.base import Change, Outcome, Skip, Work

_NEVER = frozenset({"RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Multinomial",
                    "Bernoulli", "If", "Loop", "Scan", "Dropout", "Constant", "Identity"})
_MAX_INPUT_ELEMENTS = 1 << 12      # inputs above this are weights: transforming them is not a parameter fold
_MAX_OUTPUT_ELEMENTS = 1 << 20     # outputs kept as initializers up to 4 MB of float32


def _evaluate(node: onnx.NodeProto, args: list[np.ndarray], opsets) -> list[np.ndarray] | None:
    from onnx.reference import ReferenceEvaluator

    from trtadvisor.analysis.values import result_too_large

    # ConstantOfShape([1, 1, 65536, 65536]) would allocate 16 GB before the output bound below is asked.
    if result_too_large(node.op_type, list(args)):
        return None
    names = [f"in{i}" for i in range(len(node.input))]
    copy = onnx.NodeProto()
    copy.CopyFrom(node)
    del copy.input[:]
    copy.input.extend(n if node.input[i] else "" for i, n in enumerate(names))
    feeds = {n: a for n, a, orig in zip(names, args, node.input, strict=True) if orig}
    inputs = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
              for n, a in feeds.items()]
    outputs = [helper.make_tensor_value_info(o, onnx.TensorProto.UNDEFINED, None) for o in node.output if o]
    model = helper.make_model(helper.make_graph([copy], "fold", inputs, outputs), opset_imports=list(opsets))
    try:
        return list(ReferenceEvaluator(model).run(None, feeds))
    except Exception:
        return None


def _constant_node_value(work: Work, node) -> np.ndarray | None:
    """A Constant node's value (its tensor may live in the external file, with convert_attribute)."""
    value = node.graph.const_value(node.outputs[0])
    if value is not None:
        return value
    attr = next((a for a in node.proto.attribute if a.name == "value" and a.type == a.TENSOR), None)
    if attr is None:
        return None
    external = attr.t.data_location == onnx.TensorProto.EXTERNAL
    if external and not work.weights_present:
        return None
    try:
        return numpy_helper.to_array(attr.t, base_dir=str(work.base_dir)) if external else numpy_helper.to_array(attr.t)
    except Exception:
        return None


class FoldRewrite:
    name = "fold"
    codes = ("TRT106", "TRT105")
    needs_values = False   # reads small constants only; a fold that needs an absent weight is skipped

    def apply(self, work: Work) -> Outcome:
        outcome = Outcome()
        ir = work.ir()
        known: dict[str, np.ndarray] = {}
        folded: list[int] = []
        blocked: list[str] = []
        outputs = set(ir.outputs)
        for node in ir.nodes:
            if node.op in _NEVER or node.domain not in ("", "ai.onnx") or node.subgraphs or \
                    any(o in outputs for o in node.outputs):
                continue
            if node.op in ("Shape", "Size"):
                results = self._static_shape(ir, node)
            else:
                args = self._constant_args(work, ir, node, known, blocked)
                if args is None:
                    continue
                results = _evaluate(node.proto, args, work.proto.opset_import)
            if results is None or any(r.size > _MAX_OUTPUT_ELEMENTS for r in results):
                continue
            known.update(zip(node.outputs, (np.asarray(r) for r in results), strict=False))
            folded.append(node.index)
        if blocked:
            outcome.skips.append(Skip(self.name, self.codes[0], tuple(blocked[:20]), "they read weights whose "
                                      "external data is absent"))
        if not folded:
            return outcome
        graph = work.surgeon()
        folded_set = set(folded)
        kept_readers = {name for i, n in enumerate(ir.nodes) if i not in folded_set and n.op != "Constant"
                        for name in n.inputs}
        tensors = graph.tensors()
        materialized = 0
        for index in folded:
            for out in ir.nodes[index].outputs:
                if out and out in kept_readers:
                    tensor = tensors[out]
                    tensor.inputs.clear()
                    tensor.to_constant(known[out])
                    materialized += 1
        names = tuple(ir.nodes[i].name for i in folded)
        ops = sorted({ir.nodes[i].op for i in folded})
        outcome.changes.append(Change(self.name, self.codes[0], names[:50], f"{len(folded)} node(s) "
                                      f"({', '.join(ops)}) computed from constants folded into {materialized} "
                                      "initializer(s)"))
        work.commit(graph)
        return outcome

    @staticmethod
    def _static_shape(ir, node) -> list[np.ndarray] | None:
        """Shape/Size of a tensor whose shape is fully static: known without evaluating anything."""
        shape = ir.shape(node.inputs[0])
        if shape is None or not all(isinstance(d, int) and d >= 0 for d in shape):
            return None
        if node.op == "Size":
            return [np.array(int(np.prod(shape)), dtype=np.int64)]
        rank = len(shape)
        start, end = node.attr("start", 0), node.attr("end", rank)
        start = min(max(start + rank if start < 0 else start, 0), rank)
        end = min(max(end + rank if end < 0 else end, 0), rank)
        return [np.array(shape[start:end], dtype=np.int64)]

    @staticmethod
    def _constant_args(work: Work, ir, node, known: dict[str, np.ndarray], blocked: list[str]):
        if not all(not name or name in known or ir.is_constant(name) for name in node.inputs):
            return None  # reads an activation: not a parameter subgraph
        args: list[np.ndarray] = []
        for name in node.inputs:
            if not name:
                args.append(np.zeros(0))
                continue
            value = known.get(name)
            if value is None:
                if not ir.is_constant(name):
                    return None
                size = ir.constant_size(name)
                if size is None or size > _MAX_INPUT_ELEMENTS:
                    return None
                producer = ir.producer(name)
                value = work.value(name) if producer is None else _constant_node_value(work, producer)
                if value is None:
                    blocked.append(node.name)
                    return None
                known[name] = value
            args.append(value)
        return args
