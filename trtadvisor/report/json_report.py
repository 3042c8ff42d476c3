"""JSON contract v1 (``--format json``): a public interface, extended, never broken.

The schema ships as ``trtadvisor/schema/report-v1.json`` and the tests validate against it.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring  # a str as json.dumps(..., ensure_ascii=False) writes it, in C
from typing import Any

from trtadvisor.api import AuditResult
from trtadvisor.report.common import target_dict
from trtadvisor.report.escape import json_document

SCHEMA_ID = "trtadvisor.report/v1"


def report_dict(result: AuditResult) -> dict[str, Any]:
    return _report(result, _layers_json(result))


def _report(result: AuditResult, layers: list[Any]) -> dict[str, Any]:
    prediction = result.prediction
    data: dict[str, Any] = {
        "schema": SCHEMA_ID,
        "model": {"path": result.model.path, "opset": result.model.opset, "nodes": prediction.node_count},
        "target": target_dict(result.target),
        "layers": layers,
        "eliminated": list(prediction.eliminated),
        "findings": [f.to_json() for f in result.findings],
        "recommendations": {"trtexec": result.trtexec},
        "summary": summary_dict(result),
    }
    if result.profile_command is not None:
        data["recommendations"]["profile"] = result.profile_command
    data.update(result.contract_fields())
    return data


def _layers_json(result: AuditResult) -> list[dict[str, Any]]:
    layers = [layer.to_json() for layer in result.prediction.layers]
    if result.cost is not None:
        for item, cost in zip(layers, result.cost.layers, strict=True):
            item["cost"] = cost.to_json() if cost is not None else None
    return layers


class _Encoded(list):  # type: ignore[type-arg]
    """A report list whose elements are already JSON text: dumps_readable writes them as they are."""


def _layer_rows(result: AuditResult) -> list[Any]:
    """The ``layers`` list for :func:`render_json`: each layer's JSON text, the very bytes
    ``_compact(item)`` gives for :func:`_layers_json`'s item, written without building the dicts.

    Most of a layer's fields repeat across layers (kind, ops, fusions, evidence: a few distinct tuples shared
    by thousands of layers, evidence 3 MB of a 100k-node report): each distinct value is encoded once.
    Only the name and node names are encoded per layer, and costs and alternatives in one encoder call.
    """
    layers = result.prediction.layers
    costs: list[Any] = result.cost.layers if result.cost is not None else [None] * len(layers)
    known: dict[Any, str] = {None: "null", (): "[]"}  # a field's value -> its JSON text
    get = known.get

    def encoded(value: Any) -> str:
        text = known[value] = _compact(value)  # a tuple is written as a list
        return text

    alternatives = iter(_compact_elements([list(layer.alternatives) for layer in layers if layer.alternatives]))
    # Layers priced alike share one cost object (plan/cost.py prices each signature once): each object is
    # encoded once, by identity (equal values could still differ in text, -0.0 against 0.0).
    distinct = {id(cost): cost for cost in costs if cost is not None}
    priced = dict(zip(distinct, _compact_elements([cost.to_json() for cost in distinct.values()]), strict=True))
    unpriced = ', "cost": null}' if result.cost is not None else "}"  # no "cost" field without a cost model
    join = ", ".join
    rows = _Encoded()
    append = rows.append
    try:
        for (name, kind, nodes, ops, fusions, confidence, evidence, alts, precision), cost in zip(
                layers, costs, strict=True):
            append(f'{{"name": {encode_basestring(name)}, "kind": {get(kind) or encoded(kind)}, '
                   f'"nodes": [{join(map(encode_basestring, nodes))}], "ops": {get(ops) or encoded(ops)}, '
                   f'"fusions": {get(fusions) or encoded(fusions)}, '
                   f'"confidence": {get(confidence) or encoded(confidence)}, '
                   f'"evidence": {get(evidence) or encoded(evidence)}, '
                   f'"alternatives": {next(alternatives) if alts else "[]"}, '
                   f'"precision": {get(precision) or encoded(precision)}'
                   + (unpriced if cost is None else f', "cost": {priced[id(cost)]}}}'))
    except TypeError:  # a name that is not a string: the general encoder writes whatever the layer holds
        return _layers_json(result)
    return rows


def summary_dict(result: AuditResult) -> dict[str, Any]:
    prediction = result.prediction
    by_severity = {"error": 0, "warning": 0, "info": 0}
    for f in result.findings:
        by_severity[f.severity] = by_severity.get(f.severity, 0) + 1
    return {
        "predicted_layers": len(prediction.layers),
        "eliminated_nodes": len(prediction.eliminated),
        "fused_nodes": prediction.fused_node_count,
        "fusion_coverage": round(prediction.coverage, 4),
        "findings_by_severity": by_severity,
        **_cost_summary(result),
    }


def _cost_summary(result: AuditResult) -> dict[str, Any]:
    if result.cost is None:
        return {}
    total = result.cost.predicted_ms
    return {"predicted_ms": None if total is None else round(total, 6), "cost_basis": result.cost.basis()}


def render_json(result: AuditResult) -> str:
    return json_document(dumps_readable(_report(result, _layer_rows(result))))


def dumps_readable(data: dict[str, Any]) -> str:
    """JSON with one top-level key per line and one array element per line.

    As readable as ``indent=2`` for a person or a diff, and written by json's C encoder:
    ``indent`` switches to the pure-Python encoder, which costs seconds on a 100k-node report.
    """
    # The pieces of the whole document, joined once: a large report's arrays are not joined on their own first
    # (on a 100k-node report that would be another 10 MB to allocate and copy).
    pieces = ["{\n"]
    items = list(data.items())
    for i, (key, value) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        if isinstance(value, list) and value:
            elements = value if isinstance(value, _Encoded) else _compact_elements(value)
            spaced = [",\n    "] * (2 * len(elements) - 1)  # the elements with the separators between them
            spaced[::2] = elements
            pieces.append(f"  {_compact(key)}: [\n    ")
            pieces.extend(spaced)
            pieces.append(f"\n  ]{comma}\n")
        else:
            pieces.append(f"  {_compact(key)}: {_compact(value)}{comma}\n")
    pieces.append("}\n")
    return "".join(pieces)


def _compact(value: Any) -> str:
    # check_circular=False: a report is a tree built fresh for the dump, and the encoder's cycle check
    # (an id recorded and dropped per list and dict) costs a sixth of encoding a large report's layers.
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), check_circular=False)


# A list element no report holds: a NUL cannot appear unescaped in JSON text, so its encoding
# ``"\u0000..."`` appears only where this marker was put (or in a report string that ends with
# it, which the count below detects).
_ROW_MARK = "\x00trtadvisor-row\x00"
_ENCODED_MARK = _compact(_ROW_MARK)


def _compact_elements(values: list[Any]) -> list[str]:
    """``[_compact(v) for v in values]``, encoded in one call of the C encoder.

    The elements are encoded as one list with a marker between them, and the text is cut at the
    markers: a report has tens of thousands of layers, and one json.dumps per element costs more
    than the encoding itself.
    """
    marked: list[Any] = [_ROW_MARK] * (2 * len(values) - 1)
    marked[::2] = values
    text = _compact(marked)
    if text.count(_ENCODED_MARK) != len(values) - 1:  # a report string equal to the marker
        return [_compact(v) for v in values]
    elements = text.split(f", {_ENCODED_MARK}, ")
    elements[0] = elements[0][1:]  # the list's brackets, taken off the first and last element (not the
    elements[-1] = elements[-1][:-1]  # whole text: a copy of it all)
    return elements


class JsonFormatter:
    """``--format json``: contract v1 for ``audit``, ``trtadvisor.diff/v1`` for ``diff``."""

    def __init__(self, options: object = None) -> None:
        self.options = options

    def format(self, result: AuditResult) -> str:
        return render_json(result)

    def format_diff(self, diff: Any) -> str:
        from trtadvisor.ci.diff import diff_dict

        return json_document(json.dumps(diff_dict(diff), indent=2, ensure_ascii=False) + "\n")
