"""Evaluate a small pointwise subgraph on sample values, to recognise formulas by what they compute.

Exporters write GELU, SiLU or HardSwish in many op sequences, with constants on either side and in
several spellings (0.7978845608, sqrt(2/pi), 1/1.4142). Comparing the values a candidate subgraph
computes with the formula matches the semantics, not one op sequence.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import numpy as np

from trtadvisor.ir.graph import Graph, Node

_erf = np.vectorize(math.erf, otypes=[np.float64])

_BINARY: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide, "Pow": np.power,
    "Max": np.maximum, "Min": np.minimum,
}
_UNARY: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "Erf": _erf, "Tanh": np.tanh, "Sqrt": np.sqrt, "Neg": np.negative, "Exp": np.exp, "Abs": np.abs,
    "Reciprocal": lambda a: 1.0 / a, "Sigmoid": lambda a: 1.0 / (1.0 + np.exp(-a)),
    "Relu": lambda a: np.maximum(a, 0.0), "Identity": lambda a: a, "Cast": lambda a: a,
    "Log": np.log,
}
EVALUABLE_OPS = frozenset(_BINARY) | frozenset(_UNARY) | {"HardSigmoid", "Clip", "Gelu", "HardSwish"}

# The attributes _apply reads, by op: what a node computes depends on these and nothing else of it.
EVALUATED_ATTRIBUTES = {"HardSigmoid": ("alpha", "beta"), "Gelu": ("approximate",), "Clip": ("min", "max")}

SAMPLES = np.linspace(-4.0, 4.0, 41)


def evaluate(graph: Graph, nodes: Iterable[Node], source: str, x: np.ndarray = SAMPLES) -> dict[str, np.ndarray]:
    """Values of the outputs of ``nodes`` (in topological order) when ``source`` holds ``x``.

    A node that is not evaluable, or reads a value that is neither ``source``, a computed value nor
    a single-value constant, is skipped: its output has no value, and neither has anything after it.
    """
    values: dict[str, np.ndarray] = {source: x}
    with np.errstate(all="ignore"):
        for node in nodes:
            args = _arguments(graph, node, values)
            result = None if args is None else _apply(node, args)
            if result is not None:
                values[node.outputs[0]] = result
    return values


def _arguments(graph: Graph, node: Node, values: dict[str, np.ndarray]) -> list[np.ndarray | float] | None:
    args: list[np.ndarray | float] = []
    for name in node.inputs:
        if not name:
            continue
        value = values.get(name)
        if value is None:
            value = graph.scalar(name)  # a single-value constant broadcasts like the float it holds
            if value is None:
                return None
        args.append(value)
    return args


def _apply(node: Node, args: list[np.ndarray | float]) -> np.ndarray | None:
    op = node.op
    if op in _BINARY and len(args) == 2:
        return _BINARY[op](args[0], args[1])
    if op in _UNARY and len(args) == 1:
        return _UNARY[op](args[0])
    if op == "HardSigmoid" and len(args) == 1:
        alpha, beta = node.attr("alpha", 0.2), node.attr("beta", 0.5)
        return np.clip(alpha * args[0] + beta, 0.0, 1.0)
    if op == "HardSwish" and len(args) == 1:
        return args[0] * np.clip(args[0] / 6.0 + 0.5, 0.0, 1.0)
    if op == "Gelu" and len(args) == 1:
        return gelu_tanh(args[0]) if node.attr("approximate", "none") == "tanh" else gelu_erf(args[0])
    if op == "Clip" and args:
        lo = args[1] if len(args) > 1 else node.attr("min", -np.inf)
        hi = args[2] if len(args) > 2 else node.attr("max", np.inf)
        return np.clip(args[0], lo, hi)
    return None


def gelu_erf(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def gelu_tanh(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


# Reference values on SAMPLES, computed once: recognisers compare against them for every candidate.
GELU_ERF_ON_SAMPLES = gelu_erf(SAMPLES)
GELU_TANH_ON_SAMPLES = gelu_tanh(SAMPLES)


def silu(x: np.ndarray) -> np.ndarray:
    return x / (1.0 + np.exp(-x))


def hardswish(x: np.ndarray) -> np.ndarray:
    return x * np.clip(x / 6.0 + 0.5, 0.0, 1.0)


def close(a: np.ndarray, b: np.ndarray, rtol: float) -> bool:
    if a.shape != b.shape:
        return False
    with np.errstate(all="ignore"):
        return bool(np.all(np.abs(a - b) <= rtol * 0.1 + rtol * np.abs(b)))
