"""``--format sarif``: SARIF 2.1.0 for GitHub code scanning and other SARIF viewers.

Every rule of the rulebook is listed in ``tool.driver.rules`` (stable ``ruleId`` = our TRTnnn code,
with its name, summary, rationale, fix, examples and source). Every result has a location: the Python
file and line the exporter recorded for the node when the file is in this checkout, else the model
file with the node as a logical location. ``partialFingerprints`` carries the baseline fingerprint,
so code scanning matches a finding across re-exports as ``--baseline`` does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from trtadvisor import __version__
from trtadvisor.api import AuditResult
from trtadvisor.ci.baseline import fingerprint
from trtadvisor.ci.diff import ModelDiff
from trtadvisor.ci.source_locations import FindingLocation, Locator
from trtadvisor.knowledge.findings import Finding
from trtadvisor.knowledge.rulebook import RuleBook, RuleDoc, default_rulebook
from trtadvisor.report.common import (
    SARIF_LEVEL,
    confidence_counts,
    confirm_data,
    precision_counts,
    target_dict,
    target_text,
)
from trtadvisor.report.engine_items import EngineItem, engine_items
from trtadvisor.report.escape import json_document
from trtadvisor.report.formats import FormatOptions

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/trtadvisor/trtadvisor"
ROOT_ID = "SRCROOT"
FINGERPRINT_KEY = "trtadvisor/v1"


def rule_descriptor(doc: RuleDoc) -> dict[str, Any]:
    text = (f"{doc.summary}\n\nWhy it matters: {doc.rationale}\n\nBad: {doc.bad}\nGood: {doc.good}\n\n"
            f"Fix: {doc.fix}\n\nSource: {doc.source}")
    markdown = (f"**{doc.summary}**\n\n*Why it matters:* {doc.rationale}\n\n*Bad:* `{doc.bad}`\n\n"
                f"*Good:* `{doc.good}`\n\n*Fix:* {doc.fix}\n\n*Source:* {doc.source}")
    descriptor: dict[str, Any] = {
        "id": doc.code,
        "name": doc.name,
        "shortDescription": {"text": doc.summary},
        "fullDescription": {"text": doc.rationale},
        "help": {"text": text, "markdown": markdown},
        "defaultConfiguration": {"level": SARIF_LEVEL.get(doc.severity, "note")},
        "properties": {"tags": ["tensorrt", doc.name.split(".", 1)[0]], "source": doc.source},
    }
    if doc.source.startswith(("http://", "https://")):
        descriptor["helpUri"] = doc.source.split()[0]
    return descriptor


def _location(where: FindingLocation) -> dict[str, Any]:
    if where.source is not None:
        physical = {"artifactLocation": {"uri": where.source.file, "uriBaseId": ROOT_ID},
                    "region": {"startLine": max(1, where.source.line)}}
    else:
        # A model file has no lines; GitHub needs a startLine, so the finding sits at the file's top.
        physical = {"artifactLocation": _artifact(where.model), "region": {"startLine": 1}}
    location: dict[str, Any] = {"physicalLocation": physical}
    logical = []
    if where.node:
        node: dict[str, Any] = {"name": where.node, "kind": "member"}
        if where.scope:
            node["fullyQualifiedName"] = f"{where.scope}::{where.node}"
        logical.append(node)
    if logical:
        location["logicalLocations"] = logical
    return location


def _artifact(uri: str) -> dict[str, Any]:
    if uri.startswith("/"):
        return {"uri": Path(uri).as_uri()}
    return {"uri": uri, "uriBaseId": ROOT_ID}


def _result(f: Finding, locator: Locator, rule_index: dict[str, int]) -> dict[str, Any]:
    where = locator.locate(f.nodes)
    result: dict[str, Any] = {
        "ruleId": f.rule,
        "level": SARIF_LEVEL.get(f.severity, "note"),
        "message": {"text": f"{f.message}. Hint: {f.hint}" if f.hint else f.message},
        "locations": [_location(where)],
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint(f, locator.index)},
        "properties": {"nodes": list(f.nodes), "severity": f.severity, "model": where.model},
    }
    if f.confidence is not None:
        result["properties"]["confidence"] = f.confidence
    if f.rule in rule_index:
        result["ruleIndex"] = rule_index[f.rule]
    if where.source is not None and where.node:
        # The model file is where the node lives; the Python line is where it was written.
        result["relatedLocations"] = [{"id": 1, "physicalLocation": {"artifactLocation": _artifact(where.model)},
                                       "message": {"text": f"ONNX node {where.node}"}}]
    return result


def _engine_result(item: EngineItem, locator: Locator, rule_index: dict[str, int]) -> dict[str, Any]:
    """A confirm result (diagnosis, hot layer with a known cause, missed or unpredicted layer) as a SARIF
    result: at the model nodes it names when there are some, else at the model file, with the engine layer as
    a logical location."""
    known = tuple(n for n in item.nodes if n in locator.index)
    finding = Finding(item.code, item.severity, item.message, known, item.advice)
    result = _result(finding, locator, rule_index)
    if item.layer:
        result["locations"][0].setdefault("logicalLocations", []).append(
            {"name": item.layer, "fullyQualifiedName": f"engine::{item.layer}", "kind": "resource"})
    # The baseline fingerprint keys on nodes; an engine layer of another export names none of ours.
    key = "\x1f".join((item.code, item.kind, item.layer or "", ",".join(item.nodes), item.message))
    # surrogatepass: a layer name of the artifact may hold a lone surrogate (JSON's "\udcff" escape)
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:20]
    result["partialFingerprints"] = {FINGERPRINT_KEY: digest}
    result["properties"].update({"confirm": item.kind, **({"engine_layer": item.layer} if item.layer else {}),
                                 **item.properties})
    return result


def confirm_properties(fields: Mapping[str, Any]) -> dict[str, Any] | None:
    """The engine read, the agreement figures and the hot-layer ranking, as a run property."""
    confirm = confirm_data(fields)
    if confirm is None:
        return None
    engine = confirm.engine
    out: dict[str, Any] = {
        "engine": {k: engine.get(k) for k in ("trt_version", "gpu", "sm", "total_ms")},
        "engine_layers": len(engine.get("layers") or []),
        "hot_layers": [{k: b.get(k) for k in ("rank", "layer", "median_ms", "percent", "measure", "type", "code",
                                              "rule") if b.get(k) is not None} for b in confirm.bottlenecks],
        "diagnoses": [d.get("code") for d in confirm.diagnosis],
    }
    c = confirm.comparison
    if c is not None:
        out["comparison"] = {"method": c.get("method"), "agreement": c.get("agreement"),
                             "grouping_agreement": c.get("grouping_agreement"),
                             "confirmed": len(c.get("confirmed", [])), "missed": len(c.get("missed", [])),
                             "unpredicted": len(c.get("unpredicted", []))}
    if isinstance(fields.get("cost_check"), Mapping):
        out["cost_check"] = fields["cost_check"]
    return out


def sarif_log(findings: Sequence[Finding], locator: Locator, options: FormatOptions, book: RuleBook,
              properties: dict[str, Any], engine: Sequence[EngineItem] = ()) -> dict[str, Any]:
    rules = [rule_descriptor(doc) for doc in book.rules.values()]
    rule_index = {rule["id"]: i for i, rule in enumerate(rules)}
    run: dict[str, Any] = {
        "tool": {"driver": {"name": "trtadvisor", "version": __version__, "semanticVersion": __version__,
                            "informationUri": INFORMATION_URI, "rules": rules}},
        "originalUriBaseIds": {ROOT_ID: {"uri": options.root.resolve().as_uri() + "/"}},
        "results": [*(_result(f, locator, rule_index) for f in findings),
                    *(_engine_result(item, locator, rule_index) for item in engine)],
        "columnKind": "unicodeCodePoints",
        "invocations": [{"executionSuccessful": True, **({"commandLine": options.command} if options.command
                                                          else {})}],
        "properties": properties,
    }
    return {"$schema": SARIF_SCHEMA_URI, "version": SARIF_VERSION, "runs": [run]}


def _dump(log: dict[str, Any]) -> str:
    return json_document(json.dumps(log, indent=2, ensure_ascii=False) + "\n")


class SarifFormatter:
    def __init__(self, options: FormatOptions, book: RuleBook | None = None) -> None:
        self.options = options
        self.book = book or default_rulebook()

    def format(self, result: AuditResult) -> str:
        locator = Locator(result.model.path, result.model.graph, self.options.root)
        target = {**target_dict(result.target), "assumed": target_text(result.target)}
        layers = result.prediction.layers
        fields = result.contract_fields()
        properties: dict[str, Any] = {
            "target": target, "fusion_coverage": round(result.prediction.coverage, 4),
            "predicted_layers": len(layers), "confidence": confidence_counts(layers),
            "layers_with_alternatives": sum(1 for layer in layers if layer.alternatives),
            "layer_precisions": dict(precision_counts(layers))}
        confirmed = confirm_properties(fields)
        if confirmed is not None:
            properties["confirm"] = confirmed
        return _dump(sarif_log(result.findings, locator, self.options, self.book, properties,
                               engine_items(fields, self.book)))

    def format_diff(self, diff: ModelDiff) -> str:
        locator = Locator(diff.new.model.path, diff.new.model.graph, self.options.root)
        old_cov, new_cov = diff.coverage
        return _dump(sarif_log(diff.findings, locator, self.options, self.book,
                               {"old": diff.old.model.path, "new": diff.new.model.path,
                                "fusion_coverage": {"old": round(old_cov, 4), "new": round(new_cov, 4)},
                                "fusions_lost": len(diff.lost), "fusions_gained": len(diff.gained),
                                "predicted_ms": _predicted(diff)}))


def _predicted(diff: ModelDiff) -> dict[str, Any]:
    """The predicted latency of both models on the target and the relative change (None where unknown)."""
    (old, new), change = diff.predicted_ms, diff.predicted_change
    gpu = diff.new.cost.gpu.name if diff.new.cost is not None and diff.new.cost.gpu is not None else None
    return {"old": None if old is None else round(old, 6), "new": None if new is None else round(new, 6),
            "change": None if change is None else round(change, 4), "gpu": gpu}


def merge_logs(texts: Sequence[str]) -> str:
    """Several models' logs as one SARIF log with one run per model (how pre-commit's batches arrive)."""
    logs = [json.loads(text) for text in texts]
    merged = logs[0]
    merged["runs"] = [run for log in logs for run in log["runs"]]
    return _dump(merged)
