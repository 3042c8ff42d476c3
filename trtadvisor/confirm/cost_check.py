"""Predicted layer times held against a real profile: Spearman's rank correlation and the total ratio.

Each predicted layer is paired with the engine layer that runs its anchor node (its convolution or
matrix multiply, else its first node); predicted layers sharing an engine layer add up. When the
engine was built from another export of the model (other node names), model nodes are paired with
engine nodes by aligning their op sequences, which is how the TREx ResNet-18 engines (``Conv_0``...)
meet the sample exported today (``/conv1/Conv``...).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from trtadvisor.confirm.compare import comparable_layers, op_from_name
from trtadvisor.confirm.mapping import layer_role
from trtadvisor.confirm.model import Engine, EngineLayer
from trtadvisor.knowledge.rulebook import RuleBook, default_rulebook
from trtadvisor.plan.context import PredictedLayer


@dataclass(frozen=True)
class CostPair:
    engine_layer: str
    measured_ms: float
    predicted_ms: float
    predicted_layers: tuple[str, ...]


@dataclass(frozen=True)
class CostCheck:
    pairs: tuple[CostPair, ...]
    spearman: float | None
    predicted_total_ms: float
    measured_total_ms: float  # every profiled engine layer, reformats included
    method: str  # "names" or "ops" (aligned op sequences, for another export)
    dla_layers: int = 0  # engine layers run on a DLA (helpers aside): left out of the pairs and of both totals
    unknown_layers: int = 0  # predicted layers without a cost (shapes unknown): the predicted total is partial

    @property
    def ratio(self) -> float | None:
        return self.predicted_total_ms / self.measured_total_ms if self.measured_total_ms else None

    def to_json(self) -> dict[str, object]:
        ratio = self.ratio
        return {"spearman": None if self.spearman is None else round(self.spearman, 4),
                "predicted_total_ms": round(self.predicted_total_ms, 6),
                "measured_total_ms": round(self.measured_total_ms, 6),
                "ratio": None if ratio is None else round(ratio, 4), "paired_layers": len(self.pairs),
                "method": self.method,
                # Only when there are any: reports of GPU-only engines with every cost known stay as they were.
                **({"dla_layers": self.dla_layers} if self.dla_layers else {}),
                **({"unknown_layers": self.unknown_layers} if self.unknown_layers else {})}


def _ranks(values: Sequence[float]) -> list[float]:
    """Ranks from 1, ties sharing their average rank."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Spearman's rank correlation (Pearson's on average ranks); None under three points or no spread."""
    if len(xs) != len(ys) or len(xs) < 3:
        return None
    rx, ry = _ranks(xs), _ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    vx = sum((a - mx) ** 2 for a in rx)
    vy = sum((b - my) ** 2 for b in ry)
    if not vx or not vy:
        return None
    return cov / (vx * vy) ** 0.5


def _anchor(layer: PredictedLayer, heavy: frozenset[str], passive: frozenset[str]) -> str:
    """The node whose engine layer holds ``layer``'s time: its convolution or matrix product (rules/ops.toml
    [group.heavy]), else its first node TensorRT does not usually fold into a neighbour ([group.passive])."""
    for node, op in zip(layer.nodes, layer.ops, strict=True):
        if op in heavy:
            return node
    for node, op in zip(layer.nodes, layer.ops, strict=True):
        if op not in passive:
            return node
    return layer.nodes[0]


def _number_key(name: str) -> tuple[int, str]:
    match = re.search(r"(\d+)$", name)
    return (int(match.group(1)) if match else -1, name)


def _align_nodes(model_nodes: Sequence[tuple[str, str]], engine_nodes: Sequence[str]) -> dict[str, str]:
    """Model node -> engine node, by aligning op sequences (for an engine of another export)."""
    if all(re.search(r"\d+$", n) for n in engine_nodes):
        engine_nodes = sorted(engine_nodes, key=_number_key)  # 'Conv_15' names number nodes in order
    ours = [op for _, op in model_nodes]
    theirs = [op_from_name(n) for n in engine_nodes]
    matcher = difflib.SequenceMatcher(a=ours, b=theirs, autojunk=False)
    mapping: dict[str, str] = {}
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            mapping[model_nodes[block.a + k][0]] = engine_nodes[block.b + k]
    return mapping


def _dla_layers(engine: Engine) -> set[str]:
    """Engine layers a DLA ran, with the DLA's transfer and finish helpers: the cost model prices GPU
    kernels only, so pricing these as GPU layers would compare nothing real. A ``{ForeignNode[...]}``
    layer is a DLA subgraph when the layer information says so (``Layer(DLA)``), or, with a profile alone
    (no layer types), when the engine also has the DLA's ``to nvm``/``finish`` helpers: an engine built
    with ``--useDLACore``, whose foreign nodes are DLA loadables rather than Myelin regions."""
    roles = {layer.name: layer_role(layer) for layer in engine.layers}
    on_dla = any(role in ("dla", "dla_helper") for role in roles.values())
    typed = any(layer.type for layer in engine.layers)
    return {layer.name for layer in engine.layers
            if roles[layer.name] in ("dla", "dla_helper")
            or (on_dla and not typed and roles[layer.name] == "myelin" and layer.name.startswith("{ForeignNode["))}


def check_costs(layers: Sequence[PredictedLayer], costs: Sequence[object], engine: Engine,
                model_nodes: Sequence[tuple[str, str]], eliminated: set[str] | frozenset[str] = frozenset(),
                book: RuleBook | None = None) -> CostCheck | None:
    """Pair predicted layer times (``costs[i].ms`` for ``layers[i]``, None where unknown) with the
    profile's median (else average) times; None when the engine has no times."""
    book = book or default_rulebook()
    heavy, passive = book.op_group("heavy"), book.op_group("passive")
    def measured(layer: EngineLayer) -> float | None:
        return layer.median_ms if layer.median_ms is not None else layer.average_ms

    dla = _dla_layers(engine)
    timed = [layer for layer in comparable_layers(engine) if measured(layer) is not None]
    if not timed:
        return None
    owner: dict[str, EngineLayer] = {}
    for layer in timed:  # DLA layers too: the predicted layers they run are then known to be off the GPU
        for node in layer.onnx_nodes:
            owner.setdefault(node, layer)
    known = {name for name, _ in model_nodes}
    if sum(node in known for node in owner) * 2 > len(owner):  # a few names may coincide by chance
        rename: Mapping[str, str] = {n: n for n in known}
        method = "names"
    else:
        engine_nodes = list(dict.fromkeys(node for layer in timed for node in layer.onnx_nodes))
        rename = _align_nodes([(n, op) for n, op in model_nodes if n not in eliminated], engine_nodes)
        method = "ops"
    predicted: dict[str, float] = {}
    names: dict[str, list[str]] = {}
    off_gpu = 0.0  # predicted time of the layers a DLA ran
    for layer, cost in zip(layers, costs, strict=True):
        ms = getattr(cost, "ms", None)
        target = owner.get(rename.get(_anchor(layer, heavy, passive), ""))
        if ms is not None and target is not None and target.name in dla:
            off_gpu += ms
            continue
        if ms is None or target is None:
            continue
        predicted[target.name] = predicted.get(target.name, 0.0) + ms
        names.setdefault(target.name, []).append(layer.name)
    pairs = tuple(CostPair(layer.name, measured(layer), predicted[layer.name], tuple(names[layer.name]))  # type: ignore[arg-type]
                  for layer in timed if layer.name in predicted)
    total_measured = sum(m for layer in engine.layers if layer.name not in dla and (m := measured(layer)) is not None)
    total_predicted = sum(getattr(c, "ms", 0.0) or 0.0 for c in costs) - off_gpu
    rho = spearman([p.predicted_ms for p in pairs], [p.measured_ms for p in pairs])
    unknown = sum(getattr(c, "ms", None) is None for c in costs)
    return CostCheck(pairs, rho, max(total_predicted, 0.0), total_measured, method,
                     dla_layers=sum(layer_role(layer) != "dla_helper" for layer in engine.layers if layer.name in dla),
                     unknown_layers=unknown)
