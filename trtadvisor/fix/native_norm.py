"""Shared by the LayerNorm and RMSNorm rewrites: a decomposed site (found by the audit's own matcher,
analysis/normalization.py) read as the parameters of the native op, and the edit that inserts it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from onnx import TensorProto, helper

from trtadvisor.analysis.normalization import NormSite
from trtadvisor.fix.base import Outcome, Work, unique_name
from trtadvisor.ir.graph import Graph, Node


@dataclass(frozen=True)
class NormParams:
    x: str                 # the normalised tensor, as the first ReduceMean (or the square) reads it
    axis: int              # first normalised axis; the native ops normalise from it to the last
    epsilon: float
    scale: str | None      # the constant the normalised value is multiplied by
    bias: str | None       # the constant added after (LayerNorm only)
    out: str               # the site's last tensor, which the native op writes instead
    dtype: int             # element type of x (the native op computes in it, statistics in FP32)
    out_dtype: int
    norm_shape: tuple[int, ...] | None


def _through_casts(graph: Graph, tensor: str) -> Node | None:
    node = graph.producer(tensor)
    for _ in range(3):
        if node is None or node.op != "Cast":
            break
        node = graph.producer(node.inputs[0])
    return node


def _axes(graph: Graph, node: Node) -> tuple[int, ...] | None:
    axes = node.attr("axes")
    if axes is None and len(node.inputs) > 1 and node.inputs[1]:
        value = graph.const_value(node.inputs[1])
        if value is None:
            return None
        axes = [int(a) for a in np.asarray(value).reshape(-1)]
    return tuple(int(a) for a in axes) if axes is not None else None


def read_site(graph: Graph, site: NormSite) -> NormParams | str:
    """The native op's parameters for ``site``, or why the site cannot be one (a skip reason)."""
    nodes = site.nodes
    reduces = [n for n in nodes if n.op == "ReduceMean"]
    if site.kind == "layernorm":
        x = reduces[0].inputs[0]
    else:
        square = graph.producer(reduces[0].inputs[0])
        if square is None:
            return "the squared value has no producer"
        x = square.inputs[0]
    shape = graph.shape(x)
    rank = len(shape) if shape is not None else None
    axes_seen = {_axes(graph, r) for r in reduces}
    if len(axes_seen) != 1 or None in axes_seen:
        return "the ReduceMean axes are not the same constant list"
    if any(r.attr("keepdims", 1) != 1 for r in reduces):
        return "a ReduceMean drops the reduced axes (keepdims=0)"
    axes = sorted(axes_seen.pop())  # type: ignore[arg-type]
    if rank is not None:
        axes = sorted(a % rank for a in axes)
        if axes != list(range(rank - len(axes), rank)):
            return f"it normalises over axes {axes} of a rank-{rank} tensor, not the trailing axes the native op uses"
        axis = axes[0]
    elif axes == [-1]:
        axis = -1
    else:
        return "the input's rank is unknown and the axes are not [-1]"
    sqrt = next((n for n in nodes if n.op == "Sqrt"), None)
    eps_add = _through_casts(graph, sqrt.inputs[0]) if sqrt is not None else None
    if eps_add is None or eps_add.op != "Add" or eps_add not in nodes:
        return "the epsilon Add before the Sqrt was not found"
    eps_values = [graph.scalar(i) for i in eps_add.inputs if graph.is_constant(i)]
    if len(eps_values) != 1 or eps_values[0] is None:
        return "epsilon is not a single constant value"
    scales = [n for n in nodes if n.op == "Mul" and any(graph.is_constant(i) for i in n.inputs)]
    biases = [n for n in nodes if n.op == "Add" and n is not eps_add and any(graph.is_constant(i) for i in n.inputs)]
    if len(scales) > 1 or len(biases) > 1:
        return "more than one constant Mul or Add follows the normalisation"
    # Every Add and Mul of the site must be one read here: a weight the matcher sees (say, through an
    # Identity) but this reading does not would otherwise be dropped from the native op.
    products = [n for n in nodes if n.op == "Mul" and n not in scales and n.inputs[0] != n.inputs[1]]
    reciprocal = any(n.op == "Reciprocal" or (n.op == "Div" and graph.scalar(n.inputs[0]) == 1.0) for n in nodes)
    if len([n for n in nodes if n.op == "Add"]) != 1 + len(biases) or len(products) != int(reciprocal):
        return "an Add or Mul of the site is not the epsilon, the weight, the bias or the normalising product"
    scale = next((i for i in scales[0].inputs if graph.is_constant(i)), None) if scales else None
    bias = next((i for i in biases[0].inputs if graph.is_constant(i)), None) if biases else None
    last = max(nodes, key=lambda n: n.index)
    out = last.outputs[0]
    norm_shape = tuple(shape[axis:]) if shape is not None else None
    if norm_shape is not None and not all(isinstance(d, int) for d in norm_shape):
        norm_shape = None
    for name, what in ((scale, "weight"), (bias, "bias")):
        if name is None:
            continue
        dims = graph.shape(name)
        if dims is None:
            return f"the {what}'s shape is unknown"
        trimmed = tuple(dims)
        while trimmed and trimmed[0] == 1 and len(trimmed) > len(axes):
            trimmed = trimmed[1:]
        if len(trimmed) != len(axes) or (norm_shape is not None and trimmed != norm_shape):
            return f"the {what} has shape {list(dims)}, not the normalised shape {list(norm_shape or ())}"
    if scale is None and norm_shape is None:
        return "there is no weight and the normalised shape is not static"
    dtype, out_dtype = graph.dtype(x), graph.dtype(out)
    if not dtype or not out_dtype:
        return "the element type of the input or output is unknown"
    return NormParams(x, axis, float(eps_values[0]), scale, bias, out, dtype, out_dtype, norm_shape)


def insert_native(ir: Graph, graph, op: str, params: NormParams, name: str) -> None:
    """Write ``op`` (LayerNormalization / RMSNormalization) producing the site's output tensor.

    ``graph`` is the graphsurgeon graph being edited; the decomposed nodes lose their last output
    and are removed by the cleanup unless something else still reads their values.
    """
    import onnx_graphsurgeon as gs

    tensors = graph.tensors()
    out = tensors[params.out]
    for node in list(out.inputs):
        node.outputs = [t for t in node.outputs if t is not out]
    np_type = helper.tensor_dtype_to_np_dtype(params.dtype)

    def operand(tensor_name: str | None, fill: float, tag: str) -> gs.Tensor:
        if tensor_name is None:
            return gs.Constant(f"{name}.{tag}", np.full(params.norm_shape or (), fill, dtype=np_type))
        t = tensors[tensor_name]
        dims = ir.shape(tensor_name)
        if dims is not None and len(dims) != len(params.norm_shape or dims) and params.norm_shape is not None:
            reshaped = gs.Variable(f"{name}.{tag}_reshaped", dtype=t.dtype)
            shape = gs.Constant(f"{name}.{tag}_shape", np.array(params.norm_shape, dtype=np.int64))
            graph.nodes.append(gs.Node("Reshape", f"{name}/{tag}_reshape", inputs=[t, shape], outputs=[reshaped]))
            t = reshaped
        if ir.dtype(tensor_name) != params.dtype:
            cast = gs.Variable(f"{name}.{tag}_cast", dtype=np_type)
            graph.nodes.append(gs.Node("Cast", f"{name}/{tag}_cast", attrs={"to": params.dtype}, inputs=[t],
                                       outputs=[cast]))
            t = cast
        return t

    inputs = [tensors[params.x], operand(params.scale, 1.0, "scale")]
    if op == "LayerNormalization" and params.bias is not None:
        inputs.append(operand(params.bias, 0.0, "bias"))
    attrs = {"axis": params.axis, "epsilon": params.epsilon}
    if params.out_dtype == params.dtype:
        graph.nodes.append(gs.Node(op, name, attrs=attrs, inputs=inputs, outputs=[out]))
        return
    mid = gs.Variable(f"{name}.output", dtype=np_type)
    graph.nodes.append(gs.Node(op, name, attrs=attrs, inputs=inputs, outputs=[mid]))
    graph.nodes.append(gs.Node("Cast", f"{name}/cast", attrs={"to": params.out_dtype}, inputs=[mid], outputs=[out]))


def native_name(site: NormSite, op: str, taken: set[str]) -> str:
    first = site.nodes[0].name
    return unique_name((first.rsplit("/", 1)[0] + "/" + op) if "/" in first else f"{first}_{op}", taken)


FLOAT_TYPES = (TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.BFLOAT16, TensorProto.DOUBLE)


def rewrite_norms(work: Work, rewrite: str, code: str, *, kind: str, op: str, since: int) -> Outcome:
    """Every decomposed ``kind`` site of the model replaced by ``op`` where it is provably the same."""
    from trtadvisor.analysis.normalization import find_normalizations
    from trtadvisor.fix.base import Change, Skip
    from trtadvisor.fix.opset import opset_raise_blocker

    outcome = Outcome()
    ir = work.ir()
    sites = [s for s in find_normalizations(ir) if s.kind == kind and not s.native]
    if not sites:
        return outcome
    if work.opset < since:
        blocker = opset_raise_blocker(work.proto, work.opset, since)
        if blocker is not None:
            outcome.skips.append(Skip(rewrite, code, tuple(n for s in sites for n in s.names[:1]),
                                      f"{len(sites)} site(s): {op} needs opset {since}, the model has "
                                      f"{work.opset}, and {blocker}"))
            return outcome
    read = [(site, read_site(ir, site)) for site in sites]
    good = [(site, p) for site, p in read if isinstance(p, NormParams)]
    for site, reason in read:
        if isinstance(reason, str):
            outcome.skips.append(Skip(rewrite, code, site.names, reason))
    if not good:
        return outcome
    if work.opset < since:
        work.notes.append(f"opset raised {work.opset} -> {since} for {op} (no op of the model changes version)")
        work.set_opset(since)
    graph = work.surgeon()
    taken = {n.name for n in graph.nodes}
    for site, params in good:
        name = native_name(site, op, taken)
        insert_native(ir, graph, op, params, name)
        outcome.changes.append(Change(rewrite, code, site.names, f"{len(site.nodes)} nodes -> {op} {name} "
                                      f"(axis {params.axis}, epsilon {params.epsilon:g})"))
    work.commit(graph)
    return outcome
