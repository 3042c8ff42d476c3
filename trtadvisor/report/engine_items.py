"""What confirming found, as coded items and one summary line, for the formats that list findings one by one
(SARIF results, concise lines, GitHub annotations).

Each item has a rule code (rules/engine.toml): a diagnosis (its own code), a hot layer whose cause is known
(the cause's code), a predicted layer the engine did not build as predicted (TRT612: split, or the same
nodes as another kind of layer) and an engine layer the prediction did not have (TRT613). Items are read
from the JSON contract fields (``AuditResult.contract_fields``), so every format shows the same confirm
results.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from trtadvisor.confirm.diagnose import engine_rules
from trtadvisor.knowledge.rulebook import RuleBook, default_rulebook
from trtadvisor.report.common import comparison_label, confirm_data, cost_check_text

MISSED = "predicted-layer-missed"
UNPREDICTED = "engine-layer-unpredicted"


@dataclass(frozen=True)
class EngineItem:
    code: str
    severity: str
    kind: str  # "diagnosis", "hot-layer", "missed", "other-kind" (same nodes, another layer kind) or "unpredicted"
    message: str
    advice: str
    nodes: tuple[str, ...] = ()  # model nodes, where the item names some (a location in the model)
    layer: str | None = None  # the engine layer, where the item is about one (a missed layer has none)
    properties: dict[str, Any] = field(default_factory=dict)


def _severity(book: RuleBook, code: str, default: str = "info", item: Mapping[str, Any] | None = None) -> str:
    """The item's own severity (the configuration's override, written by the confirm stage), else the rule's."""
    given = item.get("severity") if item is not None else None
    if isinstance(given, str) and given:
        return given
    doc = book.rules.get(code)
    return doc.severity if doc is not None else default


def _strings(value: object) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def _number(value: object) -> float:
    return float(value) if isinstance(value, (int, float)) else 0.0


def engine_items(fields: Mapping[str, Any], book: RuleBook | None = None) -> list[EngineItem]:
    """Every coded confirm result of an audit, in report order; empty when no engine was read."""
    confirm = confirm_data(fields)
    if confirm is None:
        return []
    book = book or default_rulebook()
    rules = engine_rules()
    items: list[EngineItem] = []
    for d in confirm.diagnosis:
        code = str(d.get("code") or "")
        items.append(EngineItem(code, _severity(book, code, item=d), "diagnosis",
                                f"{d.get('message')}. Evidence: {d.get('evidence')}", str(d.get("advice", "")),
                                properties={"rule": d.get("rule")}))
    for b in confirm.bottlenecks:
        code = b.get("code")
        if not code:
            continue  # a hot layer with no known cause is ranked in the summary, not reported as a result
        ms, share = _number(b.get("median_ms")), _number(b.get("percent"))
        items.append(EngineItem(str(code), _severity(book, str(code), "warning", b), "hot-layer",
                                f"hot layer #{b.get('rank')} {b.get('layer')}: {ms:.4f} ms, {share:.1f}% of the "
                                f"engine's time: {b.get('why')}", str(b.get("advice", "")),
                                _strings(b.get("onnx_nodes")), str(b.get("layer")),
                                {"rule": b.get("rule"), "rank": b.get("rank"), "ms": ms, "percent": share}))
    c = confirm.comparison
    if c is None:
        return items
    for m in c.get("missed", []):
        if not isinstance(m, Mapping):
            continue
        label = comparison_label(m)
        parts = _strings(m.get("engine_layers"))
        detail = (f"the engine runs its nodes in {' | '.join(parts)} ({m.get('reason')})" if parts
                  else str(m.get("reason", "")))
        items.append(EngineItem(rules.code(MISSED), _severity(book, rules.code(MISSED), item=m), "missed",
                                rules.text(MISSED, "message", layer=label, detail=detail),
                                rules.text(MISSED, "advice"), _strings(m.get("nodes")), None,
                                {"predicted_layer": label, "fusions": list(_strings(m.get("fusions"))),
                                 "engine_layers": list(parts)}))
    for k in c.get("kind_mismatches", []):
        if not isinstance(k, Mapping):
            continue
        label = str(k.get("predicted", "?"))
        detail = (f"the engine ran its nodes as one {k.get('engine_kind')} layer ({k.get('engine_layer')}), "
                  f"not {k.get('predicted_kind')}")
        items.append(EngineItem(rules.code(MISSED), _severity(book, rules.code(MISSED), item=k), "other-kind",
                                rules.text(MISSED, "message", layer=label, detail=detail),
                                rules.text(MISSED, "advice"), _strings(k.get("nodes")), None,
                                {"predicted_layer": label, "engine_layers": [str(k.get("engine_layer"))]}))
    for u in c.get("unpredicted", []):
        if not isinstance(u, Mapping):
            continue
        layer = str(u.get("engine_layer", "?"))
        groups = _strings(u.get("predicted_layers"))
        ops = _strings(u.get("ops"))
        detail = (f"it fuses nodes of the predicted layers {', '.join(groups)}" if groups
                  else f"its ops ({' + '.join(ops)}) are at a place where the prediction has no such layer")
        nodes = _strings(u.get("nodes")) if c.get("method") != "signatures" else ()
        items.append(EngineItem(rules.code(UNPREDICTED), _severity(book, rules.code(UNPREDICTED), item=u),
                                "unpredicted",
                                rules.text(UNPREDICTED, "message", layer=layer, detail=detail),
                                rules.text(UNPREDICTED, "advice"), nodes, layer, {"ops": list(ops)}))
    return items


def comparison_text(comparison: Mapping[str, Any]) -> str:
    """'agreement 96% by layer signatures: 17 fusions confirmed, 1 missed, 1 unpredicted'."""
    method = "layer signatures" if comparison.get("method") == "signatures" else "ONNX node names"
    return (f"agreement {100 * _number(comparison.get('agreement')):.0f}% by {method}: "
            f"{len(comparison.get('confirmed', []))} fusions confirmed, {len(comparison.get('missed', []))} missed, "
            f"{len(comparison.get('unpredicted', []))} unpredicted")


def engine_summary(fields: Mapping[str, Any]) -> str | None:
    """One line on the engine read: its build, the agreement, the hottest layer and the cost check."""
    confirm = confirm_data(fields)
    if confirm is None:
        return None
    engine = confirm.engine
    about = ", ".join(str(x) for x in (f"TensorRT {engine.get('trt_version')}" if engine.get("trt_version") else "",
                                       engine.get("gpu") or "") if x)
    parts = [f"engine read ({about})"] if about else []
    if confirm.comparison is not None:
        parts.append(comparison_text(confirm.comparison))
    if confirm.bottlenecks:
        b = confirm.bottlenecks[0]
        parts.append(f"hottest layer {b.get('layer')} {_number(b.get('median_ms')):.4f} ms "
                     f"({_number(b.get('percent')):.1f}%)")
    if confirm.cost_check is not None:
        parts.append(f"cost check: {cost_check_text(confirm.cost_check)}")
    return "; ".join(parts) or "engine read"
