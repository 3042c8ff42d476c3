"""Small summaries several formatters share (Markdown, HTML, SARIF, GitHub). Pure functions of a result."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trtadvisor.knowledge.findings import Finding
from trtadvisor.plan.context import PredictedLayer, Prediction

SEVERITIES = ("error", "warning", "info")
SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


@dataclass(frozen=True)
class KindCoverage:
    """Nodes of one layer kind, and how many of them share a layer with another node."""

    kind: str
    layers: int
    nodes: int
    fused_nodes: int

    @property
    def share(self) -> float:
        return self.fused_nodes / self.nodes if self.nodes else 0.0


def coverage_by_kind(layers: Sequence[PredictedLayer]) -> list[KindCoverage]:
    layers_of: Counter[str] = Counter()
    nodes: Counter[str] = Counter()
    fused: Counter[str] = Counter()
    for layer in layers:
        layers_of[layer.kind] += 1
        nodes[layer.kind] += len(layer.nodes)
        if len(layer.nodes) > 1:
            fused[layer.kind] += len(layer.nodes)
    return sorted((KindCoverage(k, layers_of[k], nodes[k], fused[k]) for k in nodes),
                  key=lambda c: (-c.nodes, c.kind))


def fusion_counts(prediction: Prediction) -> list[tuple[str, int]]:
    counts = Counter(f for layer in prediction.layers for f in layer.fusions)
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def severity_counts(findings: Iterable[Finding]) -> dict[str, int]:
    counts = dict.fromkeys(SEVERITIES, 0)
    for f in findings:
        counts[f.severity] = counts.get(f.severity, 0) + 1
    return counts


def attention_sites(extras: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """``extras["attention"]`` when the attention advisor filled it, else nothing."""
    sites = extras.get("attention")
    return [s for s in sites if isinstance(s, Mapping)] if isinstance(sites, list) else []


def attention_verdict(site: Mapping[str, Any]) -> str:
    fused = site.get("fused")
    return "fused" if fused is True else "not fused" if fused is False else "unknown"


def engine_layers(extras: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The timed layers of ``extras["engine"]`` (what TensorRT built), slowest first."""
    engine = extras.get("engine")
    if not isinstance(engine, Mapping) or not isinstance(engine.get("layers"), list):
        return []
    timed = [layer for layer in engine["layers"] if isinstance(layer, Mapping)
             and isinstance(layer.get("median_ms", layer.get("average_ms")), (int, float))]
    return sorted(timed, key=lambda layer: -float(layer.get("median_ms") or layer.get("average_ms") or 0.0))


def layer_time(layer: Mapping[str, Any]) -> float:
    value = layer.get("median_ms")
    if not isinstance(value, (int, float)):
        value = layer.get("average_ms")
    return float(value) if isinstance(value, (int, float)) else 0.0


def at_or_above(findings: Iterable[Finding], fail_on: str) -> list[Finding]:
    order = {s: i for i, s in enumerate(SEVERITIES)}
    return [f for f in findings if order.get(f.severity, 9) <= order.get(fail_on, 0)]
