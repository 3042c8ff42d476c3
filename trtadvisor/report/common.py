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
    """Fusions by type, counted as fusions: a layer per classic fusion, and each instance of a pattern
    fusion (twelve GELUs inside one Myelin region count twelve)."""
    counts = Counter(f for layer in prediction.layers for f in layer.fusions)
    instances = Counter(fusion for fusion, _ in getattr(prediction, "instances", ()))
    for fusion, n in instances.items():
        counts[fusion] = max(counts[fusion], n)
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def severity_counts(findings: Iterable[Finding]) -> dict[str, int]:
    counts = dict.fromkeys(SEVERITIES, 0)
    for f in findings:
        counts[f.severity] = counts.get(f.severity, 0) + 1
    return counts


def attention_sites(fields: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The ``attention`` contract field (AuditResult.contract_fields) when the audit has one, else nothing."""
    sites = fields.get("attention")
    return [s for s in sites if isinstance(s, Mapping)] if isinstance(sites, list) else []


def attention_verdict(site: Mapping[str, Any]) -> str:
    fused = site.get("fused")
    return "fused" if fused is True else "not fused" if fused is False else "unknown"


def engine_layers(fields: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The timed layers of the ``engine`` contract field (what TensorRT built), slowest first."""
    engine = fields.get("engine")
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


@dataclass(frozen=True)
class SiteGroup:
    """Attention sites alike in every field but their nodes: one row of a report, ``count`` times."""

    site: Mapping[str, Any]  # the first site of the group
    count: int
    softmaxes: tuple[str, ...]  # the Softmax (or Attention op) of every site, in model order


_SITE_KEYS = ("kind", "num_heads", "num_kv_heads", "head_size", "seq_q", "seq_kv", "causal", "mask", "fused")


def site_softmax(site: Mapping[str, Any], op_of: Mapping[str, str] | None = None) -> str:
    """The node that names an attention site: its Softmax (or native Attention op), else its first node."""
    nodes = [str(n) for n in site.get("nodes", [])]
    if op_of is not None:
        for name in nodes:
            if op_of.get(name) in ("Softmax", "Attention"):
                return name
    for name in nodes:  # without the graph: exporters name the node after its op
        if "softmax" in name.lower() or "attention" in name.rsplit("/", 1)[-1].lower():
            return name
    return nodes[0] if nodes else "?"


def group_sites(sites: Sequence[Mapping[str, Any]], op_of: Mapping[str, str] | None = None) -> list[SiteGroup]:
    """Identical attention sites (same kind, heads, sizes, mask, verdict and reasons) as one group each,
    in the order their first site appears."""
    groups: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
    for site in sites:
        key = (*(repr(site.get(k)) for k in _SITE_KEYS), tuple(map(str, site.get("reasons", []))))
        groups.setdefault(key, []).append(site)
    return [SiteGroup(members[0], len(members), tuple(site_softmax(s, op_of) for s in members))
            for members in groups.values()]


@dataclass(frozen=True)
class FindingGroup:
    """Findings of one rule whose messages differ only in the node names they mention."""

    finding: Finding  # the first of the group
    count: int
    members: tuple[Finding, ...]


def _finding_key(f: Finding) -> tuple[str, ...]:
    message = f.message
    for name in sorted(set(f.nodes), key=len, reverse=True)[:50]:
        if name:
            message = message.replace(name, "\x00")
    return (f.rule, f.severity, message, f.hint)


def group_findings(findings: Sequence[Finding]) -> list[FindingGroup]:
    """Repeated findings (same rule, severity, hint and message but for node names) as one group each."""
    groups: dict[tuple[str, ...], list[Finding]] = {}
    for f in findings:
        groups.setdefault(_finding_key(f), []).append(f)
    return [FindingGroup(members[0], len(members), tuple(members)) for members in groups.values()]


def op_types(result: Any) -> dict[str, str]:
    """Node name -> op type over the model and its subgraphs (built only when a report needs it)."""
    return {n.name: n.op for g in result.model.graph.walk() for n in g.nodes}


@dataclass(frozen=True)
class ConfirmData:
    """What the confirm stage added to a result (JSON contract fields), for formatters other than rich."""

    engine: Mapping[str, Any]
    bottlenecks: list[Mapping[str, Any]]
    diagnosis: list[Mapping[str, Any]]
    comparison: Mapping[str, Any] | None
    cost_check: Mapping[str, Any] | None = None  # predicted layer times against the measured ones


def confirm_data(fields: Mapping[str, Any]) -> ConfirmData | None:
    """The confirm results of an audit, or None when no engine was read."""
    engine = fields.get("engine")
    if not isinstance(engine, Mapping):
        return None

    def rows(key: str) -> list[Mapping[str, Any]]:
        value = fields.get(key)
        return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []

    comparison = fields.get("comparison")
    cost_check = fields.get("cost_check")
    return ConfirmData(engine, rows("bottlenecks"), rows("diagnosis"),
                       comparison if isinstance(comparison, Mapping) else None,
                       cost_check if isinstance(cost_check, Mapping) else None)


COST_CHECK_ROWS = 10  # paired layers shown, the slowest measured first; the JSON report lists them all


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None


def cost_check_text(check: Mapping[str, Any]) -> str:
    """'Spearman 0.81 over 23 paired layers; predicted 1.020 ms vs measured 1.017 ms (x1.00); predicted for A100
    FP16, measured on NVIDIA A100 80GB PCIe': how well the cost model ranked and summed this engine's layers."""
    rho, ratio = _num(check.get("spearman")), _num(check.get("ratio"))
    predicted, measured = _num(check.get("predicted_total_ms")), _num(check.get("measured_total_ms"))
    rank = (f"Spearman {rho:.2f} over {check.get('paired_layers')} paired layers" if rho is not None
            else f"{check.get('paired_layers')} paired layers (too few or too alike for a rank correlation)")
    total = (f"predicted {predicted:.3f} ms vs measured {measured:.3f} ms"
             + (f" (x{ratio:.2f})" if ratio is not None else "")) if predicted is not None and measured is not None \
        else "totals unknown"
    gpu, engine_gpu = check.get("gpu"), check.get("engine_gpu")
    basis = f"predicted for {gpu or 'an unknown GPU'} {str(check.get('precision') or '').upper()}".rstrip()
    if engine_gpu:
        basis += f", measured on {engine_gpu}"
        if gpu and str(gpu).lower() not in str(engine_gpu).lower():
            basis += " (another GPU: compare the ranks, not the times; give --gpu for the engine's GPU)"
    else:
        basis += " (the artifacts do not name their GPU: the times compare only if --gpu is the engine's)"
    notes = ""
    if check.get("dla_layers"):
        notes += (f"; {check['dla_layers']} engine layers ran on a DLA, which the cost model does not price: "
                  "left out of the pairs and both totals")
    if check.get("unknown_layers"):
        notes += (f"; {check['unknown_layers']} predicted layers have no cost (shapes unknown): "
                  "the predicted total is partial")
    return f"{rank}; {total}; {basis}{notes}"


def cost_pairs(check: Mapping[str, Any], count: int | None = COST_CHECK_ROWS) -> list[Mapping[str, Any]]:
    pairs = [p for p in check.get("pairs", []) if isinstance(p, Mapping)]
    return pairs if count is None else pairs[:count]


def pair_ratio(pair: Mapping[str, Any]) -> str:
    """Predicted over measured for one layer: 'x1.15', or '-' when nothing was measured."""
    predicted, measured = _num(pair.get("predicted_ms")), _num(pair.get("measured_ms"))
    return f"x{predicted / measured:.2f}" if predicted is not None and measured else "-"


def comparison_label(item: Mapping[str, Any]) -> str:
    """What a comparison row is about: the predicted layer's name (by-name comparison) or its op types
    (signature comparison, where names differ between the two exports)."""
    if item.get("predicted") is not None:
        return str(item["predicted"])
    ops = item.get("predicted_ops") or item.get("ops")
    if ops:
        return " + ".join(map(str, ops))
    return str(item.get("engine_layer", "?"))


def patterns_of(fields: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The ``patterns`` contract field: every recognised pattern instance, when the audit listed them."""
    found = fields.get("patterns")
    return [p for p in found if isinstance(p, Mapping)] if isinstance(found, list) else []


def pattern_counts(fields: Mapping[str, Any]) -> list[tuple[str, int]]:
    counts = Counter(str(p.get("pattern", "?")) for p in patterns_of(fields))
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


CONFIDENCE_LEVELS = ("observed", "documented", "inferred")


def confidence_counts(layers: Sequence[PredictedLayer]) -> dict[str, int]:
    """Predicted layers per confidence level (observed in a matching engine, documented, inferred)."""
    counts = dict.fromkeys(CONFIDENCE_LEVELS, 0)
    for layer in layers:
        counts[layer.confidence] = counts.get(layer.confidence, 0) + 1
    return counts


def confidence_text(layers: Sequence[PredictedLayer]) -> str:
    counts = confidence_counts(layers)
    either = sum(1 for layer in layers if layer.alternatives)
    return (", ".join(f"{counts[level]} {level}" for level in CONFIDENCE_LEVELS)
            + f"; {either} could go another way")


def alternative_text(alternative: Mapping[str, Any]) -> str:
    """``myelin [node_conv2d, node_relu] when TensorRT 10.16, SM 90 ...``"""
    nodes = list(alternative.get("nodes", ()))
    shown = ", ".join(nodes[:4]) + (" …" if len(nodes) > 4 else "")
    return f"{alternative.get('kind')} [{shown}] when {alternative.get('when')}"


def target_dict(target: Any) -> dict[str, Any]:
    """The target as the JSON contract and SARIF state it: what was assumed, and the typing mode."""
    return {"trt": target.trt, "sm": target.sm, "precision": target.precision, "shapes": target.shapes,
            "opt_level": target.opt_level, "typing": target.typing, "requested_precision": target.intent,
            "gpu": target.gpu}


def typing_text(target: Any) -> str:
    """One phrase for every format: the typing mode and whose types decide the precision."""
    if target.strong:
        asked = f"; --precision {target.intent} is the intent" if target.intent != target.precision else ""
        return f"strongly typed (the model's tensor types decide{asked})"
    return f"weakly typed (--precision {target.precision} enables the kernels TensorRT picks from)"


def target_text(target: Any, sep: str = ", ") -> str:
    """``TensorRT 11.4, SM 90 (H100), tf32, strongly typed (...)``."""
    gpu = f" ({target.gpu})" if target.gpu else ""
    return sep.join((f"TensorRT {target.trt}", f"SM {target.sm}{gpu}", target.precision, typing_text(target)))


def precision_counts(layers: Sequence[PredictedLayer]) -> list[tuple[str, int]]:
    """Predicted layers per precision, most common first (``[("tf32", 21), ("fp32", 12)]``)."""
    return Counter(layer.precision or "unknown" for layer in layers).most_common()


def precision_text(layers: Sequence[PredictedLayer]) -> str:
    return ", ".join(f"{p} × {n}" for p, n in precision_counts(layers))


@dataclass(frozen=True)
class HotLayer:
    """A predicted layer ranked by its predicted time (before any build)."""

    index: int
    name: str
    kind: str
    ms: float
    share: float  # of the predicted total
    bound: str


HOT_LAYERS = 8


def hot_layers(result: Any, count: int = HOT_LAYERS) -> list[HotLayer]:
    """The predicted layers that will dominate, slowest first; empty when no cost is known."""
    estimate = getattr(result, "cost", None)
    if estimate is None or not estimate.predicted_ms:
        return []
    total = estimate.predicted_ms
    known = [(c.ms, i, c) for i, c in enumerate(estimate.layers) if c is not None]
    known.sort(key=lambda item: (-item[0], item[1]))
    layers = result.prediction.layers
    return [HotLayer(i, layers[i].name, layers[i].kind, c.ms, c.ms / total, c.bound) for _, i, c in known[:count]]


def predicted_time_text(result: Any) -> str | None:
    """'2.109 ms on A100 FP32 (...)': the predicted total and what it stands on; None when unknown."""
    estimate = getattr(result, "cost", None)
    if estimate is None or estimate.gpu is None:
        return None
    total = estimate.predicted_ms
    gpu = estimate.gpu.name + (f" (assumed for SM {result.target.sm})" if estimate.gpu.assumed else "")
    if total is None:
        return f"unknown on {gpu}: no layer has fully known shapes (give --shapes)"
    priced = [f["cost"]["ms"] for f in getattr(result, "reformats", None) or () if isinstance(f.get("cost"), dict)]
    boundary = f", plus {sum(priced):.3f} ms of boundary reformats" if priced else ""
    if estimate.unknown:  # a partial sum is a floor, not an estimate of the whole engine
        count = len(estimate.layers)
        return (f"at least {total:.3f} ms on {gpu} {estimate.precision.upper()} (per-layer roofline estimates, "
                f"before any build){boundary}: {estimate.unknown} of {count} layers have unknown shapes and are "
                "not counted; give --shapes to price them")
    return (f"{total:.3f} ms on {gpu} {estimate.precision.upper()} (sum of per-layer roofline estimates, "
            f"before any build){boundary}")
