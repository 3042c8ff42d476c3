"""Shapes ONNX's inference leaves unknown in a model whose inputs are all static.

Exporters compute reshape targets at run time: TorchScript writes ``x.view(B, C, -1)`` as
``Concat(Slice(Shape(x)), [-1])``, and ONNX's data propagation (onnx 1.23) does not carry the value
through that Slice, so the Reshape's output and everything after it have no shape (Swin-T: 666 of 687
layers; LeViT-128S: 63 of 78). TensorRT builds such a model with every shape known. When every graph
input is static, the shape tensors feeding those ops are plain numbers (:class:`GraphValues` evaluates
them): this module puts the numbers in as constants in a copy of the model, infers again, and gives
the graph the shapes that were missing. Shapes already known are left as they are.
"""

from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import helper, numpy_helper
from onnx.onnx_cpp2py_export import shape_inference as _cpp_shape_inference

from trtadvisor.analysis.attention_sites import graph_values
from trtadvisor.analysis.values import GraphValues
from trtadvisor.ir.graph import Graph, TensorType, is_static, tensor_types_of

# A copy of the model is inferred again: beyond this many nodes that would cost seconds, and models this
# large come from generators that write constant shapes.
MAX_NODES = 50_000
_MAX_SHAPE_ELEMENTS = 64  # a shape, axes or pads tensor; anything longer is data, not a shape
_MAX_ROUNDS = 8


def complete_static_shapes(model: onnx.ModelProto, graph: Graph, shape_inputs: dict[str, tuple[int, ...]]) -> int:
    """Fill the shapes inference left unknown behind computed shape tensors of ``graph`` (the main graph of
    ``model``; ``shape_inputs``: op -> the input positions that carry shapes, rules/ops.toml [shape_inputs]).
    Returns how many tensors gained a shape.

    A shape found can make the next computed shape tensor evaluable (Swin's window partition pads what
    the previous block reshaped), so it goes round until a round finds nothing new, at most _MAX_ROUNDS.
    """
    if graph.parent is not None or len(graph.nodes) > MAX_NODES or not graph.inputs_static():
        return 0
    total = 0
    folded: dict[str, np.ndarray] = {}
    values = graph_values(graph)  # the audit's shared analysis first; a fresh one once shapes changed
    for _ in range(_MAX_ROUNDS):
        more = _evaluable(values, _computed_shape_tensors(graph, shape_inputs), folded)
        if not more:
            break
        folded.update(more)
        gained = _gained(graph, _infer_with_constants(model, folded))
        if not gained:
            break
        graph.decode_all_types()
        merged = dict(graph.tensor_types)
        merged.update(gained)
        graph.adopt_types(merged)
        total += len(gained)
        values = GraphValues(graph)
    return total


def _evaluable(values: GraphValues, tensors: list[str], done: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The shape tensors among ``tensors`` (not yet folded) whose value is a short list of integers."""
    found: dict[str, np.ndarray] = {}
    for tensor in tensors:
        if tensor in done:
            continue
        value = values.value(tensor)
        if value is not None and value.dtype.kind in "iu" and value.size <= _MAX_SHAPE_ELEMENTS:
            # In the tensor's own type: a Range over INT32 bounds (torchvision's anchor grid) infers
            # nothing when one bound arrives as INT64.
            declared = values.graph.dtype(tensor)
            found[tensor] = value.astype(np.int32 if declared == onnx.TensorProto.INT32 else np.int64)
    return found


def _gained(graph: Graph, inferred: dict[str, TensorType] | None) -> dict[str, TensorType]:
    """Static shapes the new inference found for tensors this graph has no static shape for."""
    if inferred is None:
        return {}
    current = graph.tensor_types
    gained: dict[str, TensorType] = {}
    for name, found in inferred.items():
        if found[1] is None or not is_static(found[1]):
            continue
        known = current.get(name)
        if known is None or not is_static(known[1]):
            gained[name] = found
    return gained


def _computed_shape_tensors(graph: Graph, shape_inputs: dict[str, tuple[int, ...]]) -> list[str]:
    """Shape tensors that nodes compute (not constants) and whose reader's output has no static shape."""
    constants = graph.constant_names
    found: dict[str, None] = {}
    for op, positions in shape_inputs.items():
        for node in graph.nodes_of(op):
            if not node.outputs or is_static(graph.shape(node.outputs[0])):
                continue
            for i in positions:
                if i < len(node.inputs) and node.inputs[i] and node.inputs[i] not in constants:
                    found[node.inputs[i]] = None
    return list(found)


def _infer_with_constants(source: onnx.ModelProto, folded: dict[str, np.ndarray]) -> dict[str, TensorType] | None:
    """The types ONNX infers for a copy of the model whose readers of ``folded`` read constants instead.

    The copy carries no weights: an initializer larger than a shape tensor becomes a typed input (inference
    needs its type, not its data), so a model with gigabytes of inline weights costs no copy of them.
    """
    model = onnx.ModelProto()
    model.ir_version = source.ir_version
    model.opset_import.extend(source.opset_import)
    graph, original = model.graph, source.graph
    graph.node.extend(original.node)
    graph.input.extend(original.input)
    graph.output.extend(original.output)
    declared = {vi.name for vi in original.input}
    for tensor in original.initializer:
        if tensor.data_location != onnx.TensorProto.EXTERNAL and math.prod(tensor.dims) <= _MAX_SHAPE_ELEMENTS:
            graph.initializer.append(tensor)
        elif tensor.name not in declared:
            graph.input.append(helper.make_tensor_value_info(tensor.name, tensor.data_type, list(tensor.dims)))
    taken = {t.name for t in original.initializer} | {o for n in original.node for o in n.output} | declared
    renamed: dict[str, str] = {}
    for tensor, value in folded.items():
        name = f"{tensor}__static"
        while name in taken:
            name += "_"
        taken.add(name)
        renamed[tensor] = name
        graph.initializer.append(numpy_helper.from_array(value, name))
    for node in graph.node:
        for k, name in enumerate(node.input):
            if name in renamed:
                node.input[k] = renamed[name]
    try:
        data = _cpp_shape_inference.infer_shapes(model.SerializeToString(), False, False, True)
    except Exception:  # an inconsistency the first inference tolerated: keep what we have
        return None
    answer = onnx.ModelProto()
    answer.ParseFromString(data)
    return tensor_types_of(answer.graph)

