"""``--format github``: GitHub Actions workflow commands, one annotation per finding.

``::warning file=net.py,line=12,title=TRT101 fusion.conv-activation::message``. A finding points at
the Python line the exporter recorded when that file is in the checkout, else at the model file.
"""

from __future__ import annotations

from collections.abc import Sequence

from trtadvisor.api import AuditResult
from trtadvisor.ci.diff import ModelDiff
from trtadvisor.ci.source_locations import Locator
from trtadvisor.knowledge.findings import Finding
from trtadvisor.knowledge.rulebook import RuleBook, default_rulebook
from trtadvisor.report.common import confidence_text, precision_text, target_text
from trtadvisor.report.formats import FormatOptions

COMMAND = {"error": "error", "warning": "warning", "info": "notice"}


def escape_data(text: str) -> str:
    """The message part of a workflow command (GitHub's toolkit ``escapeData``)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A ``key=value`` property of a workflow command (GitHub's toolkit ``escapeProperty``)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


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


def _lines(findings: Sequence[Finding], locator: Locator, book: RuleBook, summary: str) -> str:
    lines = [annotation(f, locator, book) for f in findings]
    lines.append(summary.replace("\n", " "))
    return "\n".join(lines) + "\n"


class GithubFormatter:
    def __init__(self, options: FormatOptions, book: RuleBook | None = None) -> None:
        self.options = options
        self.book = book or default_rulebook()

    def format(self, result: AuditResult) -> str:
        locator = Locator(result.model.path, result.model.graph, self.options.root)
        p = result.prediction
        summary = (f"trtadvisor: {locator.model}: {target_text(result.target)}: {len(p.layers)} predicted layers "
                   f"({precision_text(p.layers)}; {confidence_text(p.layers)}), fusion coverage {p.coverage:.1%}, "
                   f"{len(result.findings)} finding(s)")
        return _lines(result.findings, locator, self.book, summary)

    def format_diff(self, diff: ModelDiff) -> str:
        locator = Locator(diff.new.model.path, diff.new.model.graph, self.options.root)
        old_cov, new_cov = diff.coverage
        summary = (f"trtadvisor diff: {len(diff.lost)} fusion(s) lost, {len(diff.gained)} gained, coverage "
                   f"{old_cov:.1%} -> {new_cov:.1%}, {len(diff.new_findings)} new finding(s)")
        return _lines(diff.findings, locator, self.book, summary)
