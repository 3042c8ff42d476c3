"""`trtadvisor diff OLD.onnx NEW.onnx`: what a change to the model cost (or bought) the engine.

Both models are audited for the same target, then compared: the predicted layers side by side, the
fusions lost and gained, attention verdicts that changed, coverage before and after, and the findings
that are new. Lost fusions (TRT501) and attention blocks that stopped fusing (TRT502) are errors;
a coverage drop (TRT503) is a warning; the exit code follows ``--fail-on`` as for ``audit``.

Nodes are matched by name, and where names differ (a re-export renumbered them, another exporter named them
otherwise) by structure: the predicted layers aligned by their op sequences, then the remaining nodes by op
type in graph order (:mod:`trtadvisor.ci.matching`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trtadvisor.api import AuditResult
from trtadvisor.ci.baseline import Baseline, fingerprint
from trtadvisor.ci.matching import match_nodes
from trtadvisor.ir.graph import Node
from trtadvisor.knowledge.findings import Finding, finding_for, sort_findings
from trtadvisor.knowledge.rulebook import RuleBook
from trtadvisor.plan.context import PredictedLayer

SCHEMA_ID = "trtadvisor.diff/v1"
COVERAGE_TOLERANCE = 0.005  # half a percentage point: less is noise from a renamed or re-ordered node
UNPAIRED = "\x00old:"  # prefix of an old node with no partner: no name of the new model starts so


@dataclass(frozen=True)
class FusionChange:
    """A fusion present on one side only, on nodes that exist on both sides."""

    fusion: str
    layer: str  # the layer that had it (lost: old model; gained: new model)
    nodes: tuple[str, ...]
    ops: tuple[str, ...]
    now: tuple[str, ...]  # the layers those nodes form on the other side

    def to_json(self) -> dict[str, Any]:
        return {"fusion": self.fusion, "layer": self.layer, "nodes": list(self.nodes), "ops": list(self.ops),
                "other_side": list(self.now)}


@dataclass(frozen=True)
class AttentionChange:
    nodes: tuple[str, ...]
    old: Mapping[str, Any] | None
    new: Mapping[str, Any] | None
    nodes_remain: bool = True  # an old site without a partner: are its nodes still in the new model?

    @property
    def regression(self) -> bool:
        """A fused block that no longer fuses, or whose nodes remain but are no longer seen as attention."""
        if not self.old or self.old.get("fused") is not True:
            return False
        if self.new is None:
            return self.nodes_remain
        return self.new.get("fused") is not True

    def to_json(self) -> dict[str, Any]:
        return {"nodes": list(self.nodes), "old": dict(self.old) if self.old else None,
                "new": dict(self.new) if self.new else None, "regression": self.regression}


@dataclass(frozen=True)
class LayerRow:
    """One row of the side-by-side table: an old layer, the new layers its nodes form, or an added layer."""

    old: PredictedLayer | None
    new: tuple[PredictedLayer, ...]

    @property
    def changed(self) -> bool:
        if self.old is None or len(self.new) != 1:
            return True
        n = self.new[0]
        return set(self.old.fusions) != set(n.fusions) or len(self.old.nodes) != len(n.nodes)


@dataclass(frozen=True)
class ModelDiff:
    old: AuditResult
    new: AuditResult
    rows: tuple[LayerRow, ...]
    lost: tuple[FusionChange, ...]
    gained: tuple[FusionChange, ...]
    attention: tuple[AttentionChange, ...]
    new_findings: tuple[Finding, ...]
    fixed_findings: tuple[Finding, ...]
    findings: tuple[Finding, ...]  # what the diff reports: TRT5xx plus the new findings, most severe first
    matched_by: str  # "name" (most nodes kept their names) or "structure" (paired by layers and op types)

    @property
    def coverage(self) -> tuple[float, float]:
        return self.old.prediction.coverage, self.new.prediction.coverage

    @property
    def layer_counts(self) -> tuple[int, int]:
        return len(self.old.prediction.layers), len(self.new.prediction.layers)

    @property
    def predicted_ms(self) -> tuple[float | None, float | None]:
        """Predicted latency of each model on the target (the sum of its layer estimates); None where a
        layer's shapes are unknown, since a partial sum does not compare."""
        return tuple(r.cost.predicted_ms if r.cost is not None and not r.cost.unknown else None  # type: ignore[return-value]
                     for r in (self.old, self.new))

    @property
    def predicted_change(self) -> float | None:
        """Relative change of the predicted latency, new over old minus one; None when either is unknown.
        """
        old, new = self.predicted_ms
        return (new / old - 1.0) if old and new is not None else None

    def predicted_text(self) -> str | None:
        old, new = self.predicted_ms
        if old is None or new is None:
            return None
        gpu = self.new.cost.gpu.name if self.new.cost and self.new.cost.gpu else "the target"
        return f"{old:.3f} ms -> {new:.3f} ms ({100 * (self.predicted_change or 0.0):+.1f}%) on {gpu}"


def _all_nodes(result: AuditResult) -> list[Node]:
    return [n for g in result.model.graph.walk() for n in g.nodes]


def _owners(layers: Sequence[PredictedLayer], ids: Mapping[str, str]) -> dict[str, int]:
    return {ids.get(name, name): i for i, layer in enumerate(layers) for name in layer.nodes}


def _fusion_changes(have: Sequence[PredictedLayer], have_ids: Mapping[str, str], other: Sequence[PredictedLayer],
                    other_owner: Mapping[str, int]) -> list[FusionChange]:
    changes: list[FusionChange] = []
    for layer in have:
        if not layer.fusions:
            continue
        keys = [have_ids.get(n, n) for n in layer.nodes]
        kept = [k for k in keys if k in other_owner]
        if not kept or (len(keys) > 1 and len(kept) < 2):
            # The nodes are gone (or new), or all but one: nothing is left for the fusion to join (a merge
            # that removed the Add a residual fusion joined); the change is a removal, not a lost fusion.
            continue
        partners = sorted({other_owner[k] for k in kept})
        if len(layer.nodes) == 1 and len(partners) == 1:
            twin = other[partners[0]]
            if len(twin.nodes) == 1 and twin.kind == layer.kind:
                # One op rewritten into the layer the other model's op already is (the dynamo exporter's
                # ReduceMean becomes the pooling layer TorchScript's GlobalAveragePool is): the same engine layer.
                continue
        other_fusions = {f for i in partners for f in other[i].fusions}
        for fusion in layer.fusions:
            if fusion not in other_fusions:
                changes.append(FusionChange(fusion=fusion, layer=layer.name, nodes=layer.nodes, ops=layer.ops,
                                            now=tuple(other[i].name for i in partners)))
    return changes


def _rows(old: Sequence[PredictedLayer], old_ids: Mapping[str, str], new: Sequence[PredictedLayer],
          new_owner: Mapping[str, int]) -> list[LayerRow]:
    keyed: list[tuple[tuple[int, int, int], LayerRow]] = []
    matched: set[int] = set()
    for i, layer in enumerate(old):
        partners = sorted({new_owner[k] for k in (old_ids.get(n, n) for n in layer.nodes) if k in new_owner})
        matched.update(partners)
        keyed.append(((i, 0, 0), LayerRow(layer, tuple(new[j] for j in partners))))
    # An added layer goes after the old row whose partners come just before it in the new model.
    row_of_new: dict[int, int] = {}
    for i, (_, row) in enumerate(keyed):
        for layer in row.new:
            row_of_new.setdefault(id(layer), i)
    anchor = -1
    for j, layer in enumerate(new):
        if j in matched:
            anchor = max(anchor, row_of_new.get(id(layer), anchor))
        else:
            keyed.append(((anchor, 1, j), LayerRow(None, (layer,))))
    keyed.sort(key=lambda item: item[0])
    return [row for _, row in keyed]


def _attention_changes(old: AuditResult, old_ids: Mapping[str, str], new: AuditResult,
                       new_ids: Mapping[str, str]) -> list[AttentionChange]:
    """Pair attention sites by shared nodes, then the rest in graph order; report verdicts that differ."""
    old_sites = _attention_sites(old)
    new_sites = _attention_sites(new)
    if not old_sites and not new_sites:
        return []
    new_by_node: dict[str, int] = {}
    for j, site in enumerate(new_sites):
        for name in site.get("nodes", []):
            new_by_node.setdefault(new_ids.get(name, name), j)
    partner: dict[int, int] = {}
    for i, site in enumerate(old_sites):
        keys = [old_ids.get(n, n) for n in site.get("nodes", [])]
        j = next((new_by_node[k] for k in keys if k in new_by_node and new_by_node[k] not in partner.values()),
                 None)
        if j is not None:
            partner[i] = j
    # Another exporter or attention implementation names the nodes differently: pair the rest in order.
    spare_new = iter(j for j in range(len(new_sites)) if j not in partner.values())
    for i in range(len(old_sites)):
        if i not in partner:
            j = next(spare_new, None)
            if j is None:
                break
            partner[i] = j
    new_keys = set(new_ids.values())
    changes: list[AttentionChange] = []
    for i, site in enumerate(old_sites):
        other = new_sites[partner[i]] if i in partner else None
        if other is None:
            remain = any(old_ids.get(n, n) in new_keys for n in site.get("nodes", []))
            changes.append(AttentionChange(tuple(site.get("nodes", [])), site, None, nodes_remain=remain))
        elif _verdict(site) != _verdict(other):
            changes.append(AttentionChange(tuple(site.get("nodes", [])), site, other))
    paired = set(partner.values())
    changes.extend(AttentionChange(tuple(site.get("nodes", [])), None, site)
                   for j, site in enumerate(new_sites) if j not in paired)
    return changes


def _attention_sites(result: AuditResult) -> list[Mapping[str, Any]]:
    sites = result.contract_fields().get("attention")
    if not isinstance(sites, list):
        return []
    return [s for s in sites if isinstance(s, Mapping)]


def _verdict(site: Mapping[str, Any]) -> tuple[Any, ...]:
    return site.get("fused"), site.get("kind"), site.get("mask"), site.get("causal")


def _accepting(findings: Sequence[Finding], index: Mapping[str, Node]) -> Baseline:
    return Baseline(dict(Counter(fingerprint(f, index) for f in findings)))


def _new_and_fixed(old: Sequence[Finding], old_ids: Mapping[str, str], old_index: Mapping[str, Node],
                   new: Sequence[Finding], new_index: Mapping[str, Node]) -> tuple[list[Finding], list[Finding]]:
    """Findings of the new model the old one did not have, and the reverse. A finding is the same when its
    rule and its nodes (paired across the models) are; what is left is matched by fingerprint (rule, op
    types, module scopes), as a baseline would match it, for findings on nodes that have no partner."""
    def key(f: Finding, ids: Mapping[str, str]) -> tuple[str, tuple[str, ...]]:
        return f.rule, tuple(sorted(ids.get(n, n) for n in f.nodes))

    left = Counter(key(f, old_ids) for f in old)
    fresh: list[Finding] = []
    for f in new:
        k = key(f, {})
        if left[k] > 0:
            left[k] -= 1
        else:
            fresh.append(f)
    gone = []
    for f in reversed(old):  # the counter's leftovers, in the old model's order
        k = key(f, old_ids)
        if left[k] > 0:
            left[k] -= 1
            gone.append(f)
    gone.reverse()
    new_findings, _ = _accepting(gone, old_index).split(fresh, new_index)
    fixed, _ = _accepting(fresh, new_index).split(gone, old_index)
    return new_findings, fixed


def diff_results(old: AuditResult, new: AuditResult, book: RuleBook) -> ModelDiff:
    old_nodes, new_nodes = _all_nodes(old), _all_nodes(new)
    old_index, new_index = old.model.graph.nodes_by_name_deep(), new.model.graph.nodes_by_name_deep()
    match = match_nodes(old_nodes, new_nodes, old.prediction.layers, new.prediction.layers)
    # Each node's identity across the two models: the new model's name of it.
    old_ids = {n.name: match.pairs.get(n.name, UNPAIRED + n.name) for n in old_nodes}
    new_ids = {n.name: n.name for n in new_nodes}
    old_layers, new_layers = old.prediction.layers, new.prediction.layers
    old_owner, new_owner = _owners(old_layers, old_ids), _owners(new_layers, new_ids)
    lost = _fusion_changes(old_layers, old_ids, new_layers, new_owner)
    gained = _fusion_changes(new_layers, new_ids, old_layers, old_owner)
    attention = _attention_changes(old, old_ids, new, new_ids)

    # New and fixed findings are matched by fingerprint, as a baseline would match them.
    new_findings, fixed = _new_and_fixed(old.findings, old_ids, old_index, new.findings, new_index)
    # An attention site that changed is reported once, as the attention change: not again as an "mha"
    # fusion lost or gained, nor as the new model's own attention finding on the same nodes.
    changed = {n for c in attention for n in c.nodes}
    if changed:
        lost = [c for c in lost if not (c.fusion in ATTENTION_FUSIONS and changed & set(c.nodes))]
        gained = [c for c in gained if not (c.fusion in ATTENTION_FUSIONS and changed & set(c.nodes))]
        new_findings = [f for f in new_findings if not (f.rule in ATTENTION_RULES and changed & set(f.nodes))]

    own = _diff_findings(book, lost, attention, old.prediction.coverage, new.prediction.coverage)
    return ModelDiff(old=old, new=new, rows=tuple(_rows(old_layers, old_ids, new_layers, new_owner)),
                     lost=tuple(lost), gained=tuple(gained), attention=tuple(attention),
                     new_findings=tuple(new_findings), fixed_findings=tuple(fixed),
                     findings=tuple(sort_findings([*own, *new_findings])), matched_by=match.method)


ATTENTION_FUSIONS = frozenset({"mha"})  # the plan's fusion id for a fused attention block
ATTENTION_RULES = frozenset({"TRT301", "TRT302", "TRT305"})  # the audit's verdicts on one attention site


def _diff_findings(book: RuleBook, lost: Sequence[FusionChange], attention: Sequence[AttentionChange],
                   old_coverage: float, new_coverage: float) -> list[Finding]:
    out: list[Finding] = []
    for change in lost:
        out.append(finding_for(book, "TRT501", f"{change.fusion} fusion lost: '{change.layer}' "
                               f"({' '.join(change.ops)}) is now {len(change.now)} layer(s): {' | '.join(change.now)}",
                               change.nodes))
    for change in attention:
        if change.regression:
            reasons = "; ".join(str(r) for r in (change.new or {}).get("reasons", [])) or "no longer recognised"
            out.append(finding_for(book, "TRT502",
                                   f"attention at {', '.join(change.nodes[:3])} no longer fuses: {reasons}",
                                   change.nodes))
    if old_coverage - new_coverage > COVERAGE_TOLERANCE:
        out.append(finding_for(book, "TRT503",
                               f"fusion coverage dropped from {old_coverage:.1%} to {new_coverage:.1%}"))
    return out


def diff_dict(diff: ModelDiff) -> dict[str, Any]:
    """The JSON form of a diff (``--format json``)."""
    old_cov, new_cov = diff.coverage
    (old_ms, new_ms), change = diff.predicted_ms, diff.predicted_change
    return {
        "schema": SCHEMA_ID,
        "old": {"path": diff.old.model.path, "layers": len(diff.old.prediction.layers),
                "fusion_coverage": round(old_cov, 4), "findings": len(diff.old.findings),
                "predicted_ms": None if old_ms is None else round(old_ms, 6)},
        "new": {"path": diff.new.model.path, "layers": len(diff.new.prediction.layers),
                "fusion_coverage": round(new_cov, 4), "findings": len(diff.new.findings),
                "predicted_ms": None if new_ms is None else round(new_ms, 6)},
        "predicted_change": None if change is None else round(change, 4),
        "target": {"trt": diff.new.target.trt, "sm": diff.new.target.sm, "precision": diff.new.target.precision},
        "matched_by": diff.matched_by,
        "fusions_lost": [c.to_json() for c in diff.lost],
        "fusions_gained": [c.to_json() for c in diff.gained],
        "attention_changes": [c.to_json() for c in diff.attention],
        "new_findings": [f.to_json() for f in diff.new_findings],
        "fixed_findings": [f.to_json() for f in diff.fixed_findings],
        "findings": [f.to_json() for f in diff.findings],
        "layers": [{"old": row.old.to_json() if row.old else None, "new": [n.to_json() for n in row.new]}
                   for row in diff.rows],
    }
