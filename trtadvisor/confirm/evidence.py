"""What the confirm stage found in a built engine's artifacts: the typed part of an audit result."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from trtadvisor.confirm.compare import Comparison, comparison_to_json
from trtadvisor.confirm.cost_check import CostCheck
from trtadvisor.confirm.diagnose import Bottleneck, Diagnosis, bottlenecks_to_json, diagnosis_to_json, engine_rules
from trtadvisor.confirm.model import Engine, engine_to_json

MISSED = "predicted-layer-missed"  # rules/engine.toml ids of the comparison's two kinds of disagreement
UNPREDICTED = "engine-layer-unpredicted"
# The comparison's lists whose items are coded results, and the rule id of each.
_COMPARED = (("missed", MISSED), ("kind_mismatches", MISSED), ("unpredicted", UNPREDICTED))


@dataclass(frozen=True)
class CodedResult:
    """One confirm result with a rule code: what select/ignore, severity overrides and baselines act on."""

    code: str
    kind: str  # "diagnosis", "hot-layer", "missed", "kind_mismatches" or "unpredicted"
    index: int  # its place in that list
    message: str
    nodes: tuple[str, ...]  # the model nodes it names, else the engine layer's name


@dataclass(frozen=True)
class EngineEvidence:
    engine: Engine
    bottlenecks: list[Bottleneck]
    diagnosis: list[Diagnosis]
    comparison: Comparison
    cost_check: CostCheck | None = None  # the predicted layer times held against the profile's
    cost_basis: dict[str, Any] | None = None  # what the prediction assumed: GPU and precision
    severity: dict[str, str] = field(default_factory=dict)  # code -> severity, where a configuration set one

    def coded(self) -> list[CodedResult]:
        """Every result with a rule code: diagnoses, hot layers with a known cause, and the comparison's
        missed, other-kind and unpredicted layers (TRT612, TRT613)."""
        out = [CodedResult(d.code, "diagnosis", i, d.message, ()) for i, d in enumerate(self.diagnosis)]
        out.extend(CodedResult(b.code, "hot-layer", i, b.why, b.onnx_nodes or (b.layer,))
                   for i, b in enumerate(self.bottlenecks) if b.code)
        rules = engine_rules()
        for key, rule in _COMPARED:
            for i, item in enumerate(getattr(self.comparison, key)):
                nodes = tuple(str(n) for n in item.get("nodes") or ()) if isinstance(item, dict) else ()
                layer = str(item.get("engine_layer") or item.get("predicted") or "") if isinstance(item, dict) else ""
                out.append(CodedResult(rules.code(rule), key, i, layer, nodes or ((layer,) if layer else ())))
        return out

    def without(self, results: Iterable[CodedResult]) -> EngineEvidence:
        """These results left out: a hot layer stays ranked, without its cause; the comparison's agreement
        figures stay as measured."""
        drop: dict[str, set[int]] = {}
        for r in results:
            drop.setdefault(r.kind, set()).add(r.index)
        if not drop:
            return self
        diagnosis = [d for i, d in enumerate(self.diagnosis) if i not in drop.get("diagnosis", ())]
        hot = drop.get("hot-layer", set())
        bottlenecks = [replace(b, why="", advice="", rule=None, code=None) if i in hot else b
                       for i, b in enumerate(self.bottlenecks)]
        comparison = replace(self.comparison, **{
            key: [item for i, item in enumerate(getattr(self.comparison, key)) if i not in drop.get(key, ())]
            for key, _ in _COMPARED})
        return replace(self, diagnosis=diagnosis, bottlenecks=bottlenecks, comparison=comparison)

    def selected(self, enabled: Callable[[str], bool],
                 severity: Callable[[str, str], str] | None = None) -> EngineEvidence:
        """Only the results whose code is enabled (select/ignore), each at its configured severity
        (``severity(code, default)``); a hot layer whose cause is not enabled stays ranked, without the cause."""
        kept = self.without(r for r in self.coded() if not enabled(r.code))
        if severity is None:
            return kept
        overrides = {}
        for r in kept.coded():
            default = severity_of(r.code)
            chosen = severity(r.code, default)
            if chosen != default:
                overrides[r.code] = chosen
        return replace(kept, severity={**kept.severity, **overrides})

    def severity_of(self, code: str) -> str:
        return self.severity.get(code) or severity_of(code)

    def to_json(self) -> dict[str, Any]:
        """The JSON contract fields ``engine``, ``bottlenecks``, ``diagnosis`` and ``comparison``; each coded
        result carries its ``code`` and ``severity`` (the rule's, or the configuration's)."""
        bottlenecks = bottlenecks_to_json(self.bottlenecks)
        for b in bottlenecks:
            if b.get("code"):
                b["severity"] = self.severity_of(str(b["code"]))
        diagnosis = diagnosis_to_json(self.diagnosis)
        for d in diagnosis:
            d["severity"] = self.severity_of(d["code"])
        comparison = comparison_to_json(self.comparison)
        rules = engine_rules()
        for key, rule in _COMPARED:
            code = rules.code(rule)
            comparison[key] = [{**item, "code": code, "severity": self.severity_of(code)} if isinstance(item, dict)
                               else item for item in comparison.get(key, [])]
        fields = {"engine": engine_to_json(self.engine), "bottlenecks": bottlenecks,
                  "diagnosis": diagnosis, "comparison": comparison}
        if self.cost_check is not None:
            fields["cost_check"] = cost_check_to_json(self.cost_check, self.cost_basis or {}, self.engine.gpu)
        return fields


def severity_of(code: str) -> str:
    """The severity rules/engine.toml gives ``code`` (info for a code it does not have)."""
    rules = engine_rules()
    for table in rules.by_id.values():
        if table.get("code") == code:
            return str(table.get("severity", "info"))
    return "info"


def cost_check_to_json(check: CostCheck, basis: dict[str, Any], engine_gpu: str | None) -> dict[str, Any]:
    """The ``cost_check`` contract field: the figures, what the prediction assumed, and every paired layer,
    the slowest measured first."""
    pairs = sorted(check.pairs, key=lambda p: (-p.measured_ms, p.engine_layer))
    return {**check.to_json(), "gpu": basis.get("gpu"), "precision": basis.get("precision"),
            "engine_gpu": engine_gpu,
            "pairs": [{"engine_layer": p.engine_layer, "measured_ms": round(p.measured_ms, 6),
                       "predicted_ms": round(p.predicted_ms, 6), "predicted_layers": list(p.predicted_layers)}
                      for p in pairs]}
