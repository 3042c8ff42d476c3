"""The trtexec commands that fit the model and the TensorRT version.

Flags and their history come from rules/trt.toml: precision flags exist through 10.x and are gone in
11.x (strongly typed by default); CUDA graphs are asked for with --useCudaGraph before 11.x and on by
default after; --noDataTransfers --useSpinWait make measurements stable; the profiling recipe adds
detailed verbosity, the three exports and --separateProfileRun.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from trtadvisor.ir.graph import Graph
from trtadvisor.ir.load import LoadedModel
from trtadvisor.knowledge.rulebook import RuleBook
from trtadvisor.knowledge.target import Target

CUDA_GRAPH_BLOCKERS = frozenset({"Loop", "If", "Scan", "NonZero", "NonMaxSuppression", "Unique"})


def _dims_text(dims: tuple[object, ...]) -> str:
    return "x".join(str(d) if isinstance(d, int) else "1" for d in dims)


def input_shapes(model: LoadedModel) -> dict[str, tuple[object, ...]]:
    graph = model.graph
    shapes: dict[str, tuple[object, ...]] = {}
    for name in graph.inputs:
        shape = graph.shape(name)
        if shape is not None:
            shapes[name] = shape
    return shapes


def dynamic_inputs(model: LoadedModel) -> list[str]:
    return [name for name, shape in input_shapes(model).items() if not all(isinstance(d, int) for d in shape)]


def has_qdq(graph: Graph) -> bool:
    return any(g.nodes_of("QuantizeLinear", "DequantizeLinear") for g in graph.walk())


def has_cuda_graph_blockers(graph: Graph) -> bool:
    return any(g.nodes_of(*CUDA_GRAPH_BLOCKERS) for g in graph.walk())


def precision_flags(model: LoadedModel, target: Target, book: RuleBook) -> list[str]:
    flags_table = book.trt["precision_flags"]
    if target.trt_at_least(flags_table["removed_in"]):
        return []  # strongly typed by default: the model's own types decide
    if has_qdq(model.graph) and target.trt_at_least(flags_table["strongly_typed_since"]):
        return ["--stronglyTyped"]
    if target.precision == "fp32":
        return [flags_table["tf32_off"]]
    if target.precision == "tf32":
        return []
    if target.precision == "best":
        return [flags_table["best"]]
    flag = flags_table.get(target.precision)
    return [flag] if flag else []


def _shapes_flag(model: LoadedModel) -> list[str]:
    dynamic = set(dynamic_inputs(model))
    chosen: dict[str, tuple[object, ...]] = {}
    for name, shape in input_shapes(model).items():
        if name in model.shape_overrides:
            chosen[name] = model.shape_overrides[name]
        elif name in dynamic:
            chosen[name] = shape
    if not chosen:
        return []
    return ["--shapes=" + ",".join(f"{_quote_name(n)}:{_dims_text(s)}" for n, s in chosen.items())]


def _quote_name(name: str) -> str:
    return f"'{name}'" if any(c in name for c in ",: ") else name


def build_flags(model: LoadedModel, target: Target, book: RuleBook) -> list[str]:
    """The flags that decide what engine is built: input shapes and precision."""
    return [*_shapes_flag(model), *precision_flags(model, target, book)]


def trtexec_command(model: LoadedModel, target: Target, book: RuleBook) -> str:
    """The benchmark command: shapes, precision and the stable-measurement flags."""
    parts = ["trtexec", f"--onnx={model.path}", *build_flags(model, target, book)]
    parts += list(book.trt["stable_measurement"]["flags"])
    cuda_graph = book.trt["cuda_graph"]
    if not target.trt_at_least(cuda_graph["default_on_since"]) and not has_cuda_graph_blockers(model.graph):
        parts.append(cuda_graph["flag"])
    return " ".join(shlex.quote(p) if " " in p else p for p in parts)


def profiling_command(model: LoadedModel, target: Target, book: RuleBook) -> str:
    """The per-layer profiling recipe whose outputs `trtadvisor audit --layer-info ...` reads back."""
    stem = Path(model.path).with_suffix("").name
    base = trtexec_command(model, target, book)
    recipe = [flag.format(stem=stem) for flag in book.trt["profiling"]["flags"]]
    return " ".join([base, *recipe])
