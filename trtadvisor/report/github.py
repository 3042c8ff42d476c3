"""``--format github``: GitHub Actions workflow commands, one annotation per finding (repeated findings grouped).

``::warning file=net.py,line=12,title=TRT101 fusion.conv-activation::message``. A finding points at
the Python line the exporter recorded when that file is in the checkout, else at the model file. After a
confirm, a notice gives the agreement and the hot layers and each diagnosis is a warning. The output fits
65,536 characters: annotations past that are cut, and a last notice says how many and where the full
report is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from trtadvisor.api import AuditResult
from trtadvisor.ci.diff import ModelDiff
from trtadvisor.ci.source_locations import Locator
from trtadvisor.knowledge.findings import Finding
from trtadvisor.knowledge.rulebook import RuleBook, default_rulebook
from trtadvisor.report.common import (
    comparison_label,
    confidence_text,
    confirm_data,
    cost_check_text,
    group_findings,
    precision_text,
    target_text,
)
from trtadvisor.report.engine_items import engine_items
from trtadvisor.report.escape import github_data, github_property, visible
from trtadvisor.report.fit import GITHUB_COMMENT_LIMIT, full_report_hint
from trtadvisor.report.formats import FormatOptions

COMMAND = {"error": "error", "warning": "warning", "info": "notice"}


# GitHub's toolkit escaping, plus no control characters a log viewer would interpret (see escape.py).
escape_data = github_data
escape_property = github_property


def annotation(f: Finding, locator: Locator, book: RuleBook) -> str:
    where = locator.locate(f.nodes)
    doc = book.rules.get(f.rule)
    title = f"{f.rule} {doc.name}" if doc else f.rule
    props = []
    if where.source is not None:
        props += [f"file={escape_property(where.source.file)}", f"line={where.source.line}"]
    else:
        props.append(f"file={escape_property(where.model)}")
    props.append(f"title={escape_property(title)}")
    node = f" [node {where.node}]" if where.node and where.source is not None else ""
    message = f"{f.message}{node}. Hint: {f.hint}" if f.hint else f"{f.message}{node}"
    return f"::{COMMAND.get(f.severity, 'notice')} {','.join(props)}::{escape_data(message)}"


def _grouped(findings: Sequence[Finding]) -> list[Finding]:
    """One finding per group of repeated findings, its message saying how many and where the others are."""
    out = []
    for g in group_findings(findings):
        f = g.finding
        if g.count > 1:
            others = [m.nodes[0] for m in g.members[1:] if m.nodes][:3]
            also = f" (also at {', '.join(others)}{' and more' if g.count - 1 > len(others) else ''})" if others else ""
            f = replace(f, message=f"x{g.count} like this{also}: {f.message}")
        out.append(f)
    return out


def _engine_lines(fields: Mapping[str, Any], model: str, book: RuleBook) -> list[str]:
    confirm = confirm_data(fields)
    if confirm is None:
        return []
    parts = []
    c = confirm.comparison
    if c is not None:
        parts.append(f"agreement {100 * float(c.get('agreement', 0)):.0f}% ({c.get('method', 'names')}): "
                     f"{len(c.get('confirmed', []))} fusions confirmed, {len(c.get('missed', []))} missed, "
                     f"{len(c.get('unpredicted', []))} unpredicted")
    if c is not None:
        for key, label in (("missed", "missed"), ("kind_mismatches", "built as another kind"),
                           ("unpredicted", "unpredicted")):
            items = [item for item in c.get(key, []) if isinstance(item, Mapping)]
            names = [comparison_label(item) if key != "unpredicted" else str(item.get("engine_layer", "?"))
                     for item in items[:5]]
            if names:
                more = f" and {len(items) - len(names)} more" if len(items) > len(names) else ""
                parts.append(f"{label}: {'; '.join(names)}{more}")
    if confirm.bottlenecks:
        parts.append("hot layers: " + "; ".join(
            f"{b.get('layer')} {float(b.get('median_ms', 0)):.4f} ms ({float(b.get('percent', 0)):.1f}%)"
            + (f" [{b.get('rule')}]" if b.get("rule") else "") for b in confirm.bottlenecks[:5]))
    if confirm.cost_check is not None:
        parts.append(f"cost check: {cost_check_text(confirm.cost_check)}")
    where = f"file={escape_property(model)}"
    lines = [f"::notice {where},title={escape_property('trtadvisor engine read')}::{escape_data('. '.join(parts))}"]
    for d in confirm.diagnosis:
        title = escape_property(f"trtadvisor diagnosis {d.get('code')} {d.get('rule')}")
        doc = book.rules.get(str(d.get("code")))
        severity = d.get("severity") or (doc.severity if doc is not None else "warning")
        command = COMMAND.get(str(severity), "warning")
        lines.append(f"::{command} {where},title={title}::"
                     + escape_data(f"{d.get('message')}. Evidence: {d.get('evidence')}. Advice: {d.get('advice')}"))
    # The comparison's disagreements (TRT612, TRT613): one annotation each, as SARIF and concise list them.
    for item in engine_items(fields, book):
        if item.kind in ("missed", "other-kind", "unpredicted"):
            doc = book.rules.get(item.code)
            title = escape_property(f"trtadvisor {item.code} {doc.name if doc is not None else item.kind}")
            lines.append(f"::{COMMAND.get(item.severity, 'warning')} {where},title={title}::"
                         + escape_data(f"{item.message}. Advice: {item.advice}"))
    return lines


def _lines(findings: Sequence[Finding], locator: Locator, book: RuleBook, summary: str,
           extra: Sequence[str] = (), command: str | None = None) -> str:
    """The annotations, cut to fit the limit with a last notice saying how many were cut."""
    lines = [*extra, *(annotation(f, locator, book) for f in _grouped(findings))]
    summary = summary.replace("\n", " ")
    budget = GITHUB_COMMENT_LIMIT - len(summary) - 600
    kept: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) + 1 > budget:
            break
        kept.append(line)
        used += len(line) + 1
    if len(kept) < len(lines):
        note = (f"{len(lines) - len(kept)} more annotation(s) cut to fit {GITHUB_COMMENT_LIMIT:,} characters. "
                f"{full_report_hint(locator.model, command)}")
        kept.append(f"::notice file={escape_property(locator.model)},title=trtadvisor::{escape_data(note)}")
    kept.append(summary)
    return "\n".join(kept) + "\n"


class GithubFormatter:
    def __init__(self, options: FormatOptions, book: RuleBook | None = None) -> None:
        self.options = options
        self.book = book or default_rulebook()

    def format(self, result: AuditResult) -> str:
        locator = Locator(result.model.path, result.model.graph, self.options.root)
        p = result.prediction
        model = visible(locator.model, one_line=True)  # a plain log line: no control character of the name
        summary = (f"trtadvisor: {model}: {target_text(result.target)}: {len(p.layers)} predicted layers "
                   f"({precision_text(p.layers)}; {confidence_text(p.layers)}), fusion coverage {p.coverage:.1%}, "
                   f"{len(result.findings)} finding(s)")
        engine = _engine_lines(result.contract_fields(), locator.model, self.book)
        return _lines(result.findings, locator, self.book, summary, engine)

    def format_diff(self, diff: ModelDiff) -> str:
        locator = Locator(diff.new.model.path, diff.new.model.graph, self.options.root)
        old_cov, new_cov = diff.coverage
        predicted = diff.predicted_text()
        summary = (f"trtadvisor diff: {len(diff.lost)} fusion(s) lost, {len(diff.gained)} gained, coverage "
                   f"{old_cov:.1%} -> {new_cov:.1%}, {len(diff.new_findings)} new finding(s), predicted time "
                   + (predicted or "unknown (shapes not all known)"))
        extra = []
        if predicted is not None:  # an annotation on the new model, so a review sees the latency change
            extra.append(f"::notice file={escape_property(locator.model)},"
                         f"title={escape_property('trtadvisor predicted time')}::"
                         + escape_data(f"predicted latency {predicted} (sum of per-layer roofline estimates, "
                                       "before any build)"))
        old = Locator(diff.old.model.path, diff.old.model.graph, self.options.root).model
        return _lines(diff.findings, locator, self.book, summary, extra,
                      command=f"trtadvisor diff {old} {locator.model}")
