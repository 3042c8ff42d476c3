"""``--format markdown``: a pull-request comment (summary, coverage, findings table, the trtexec command).

GitHub-flavoured Markdown that also reads well on GitLab: tables, no HTML beyond ``<details>``.
"""

from __future__ import annotations

from collections.abc import Sequence

from trtadvisor.api import AuditResult
from trtadvisor.ci.diff import ModelDiff
from trtadvisor.ci.source_locations import FindingLocation, Locator
from trtadvisor.knowledge.findings import Finding
from trtadvisor.report.common import (
    alternative_text,
    attention_sites,
    attention_verdict,
    confidence_text,
    coverage_by_kind,
    fusion_counts,
    precision_text,
    severity_counts,
    typing_text,
)
from trtadvisor.report.formats import FormatOptions

ICON = {"error": "🔴", "warning": "🟠", "info": "🔵"}
MAX_FINDINGS = 100  # a PR comment has a size limit (65536 characters on GitHub)


def cell(text: object) -> str:
    """Text safe inside a table cell: pipes escaped, line breaks flattened."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", "<br>")


def code(text: str) -> str:
    ticks = "``" if "`" in text else "`"
    return f"{ticks}{text}{ticks}"


def _where(where: FindingLocation) -> str:
    if where.source is not None:
        node = f" ({code(where.node)})" if where.node else ""
        return f"{code(f'{where.source.file}:{where.source.line}')}{node}"
    if where.node:
        return code(where.node)
    return code(where.model)


def _findings_table(findings: Sequence[Finding], locator: Locator) -> list[str]:
    if not findings:
        return ["No findings. ✅", ""]
    lines = ["| | Rule | Where | Finding | Fix |", "|---|---|---|---|---|"]
    for f in findings[:MAX_FINDINGS]:
        lines.append(f"| {ICON.get(f.severity, '')} {f.severity} | {f.rule} | {cell(_where(locator.locate(f.nodes)))}"
                     f" | {cell(f.message)} | {cell(f.hint)} |")
    if len(findings) > MAX_FINDINGS:
        lines.append(f"\n{len(findings) - MAX_FINDINGS} more findings: see the SARIF or JSON report.")
    return [*lines, ""]


def _counts(findings: Sequence[Finding]) -> str:
    counts = severity_counts(findings)
    return ", ".join(f"{counts[s]} {s}" for s in ("error", "warning", "info"))


class MarkdownFormatter:
    def __init__(self, options: FormatOptions) -> None:
        self.options = options

    def format(self, result: AuditResult) -> str:
        locator = Locator(result.model.path, result.model.graph, self.options.root)
        p, t = result.prediction, result.target
        gpu = f" ({t.gpu})" if t.gpu else ""
        out = [f"## trtadvisor: {code(locator.model)}", "",
               f"**TensorRT {t.trt} · SM {t.sm}{gpu} · {t.precision}** — {p.node_count} ONNX nodes → "
               f"**{len(p.layers)}** predicted layers, {len(p.eliminated)} eliminated · fusion coverage "
               f"**{p.coverage:.1%}** · findings: {_counts(result.findings)}", "",
               f"Typing: {typing_text(t)} · layer precisions: {precision_text(p.layers)}", ""]
        baseline = result.baseline
        if baseline is not None and baseline.accepted:
            out += [f"{baseline.accepted} finding(s) accepted by the baseline {code(baseline.path)}"
                    " are not shown.", ""]
        out += ["### Fusion coverage by layer kind", "", "| Kind | Layers | Nodes | Fused nodes | Share |",
                "|---|---:|---:|---:|---:|"]
        out += [f"| {c.kind} | {c.layers} | {c.nodes} | {c.fused_nodes} | {c.share:.0%} |"
                for c in coverage_by_kind(p.layers)]
        fusions = fusion_counts(p)
        if fusions:
            out += ["", "Fusions: " + ", ".join(f"{code(f)} × {n}" for f, n in fusions)]
        out += ["", f"How sure: {confidence_text(p.layers)}."]
        either = [layer for layer in p.layers if layer.alternatives]
        if either:
            out += ["", "<details><summary>Layers that could go another way</summary>", "",
                    "| Layer | Kind | Confidence | Also seen |", "|---|---|---|---|"]
            out += [f"| {cell(layer.name)} | {layer.kind} | {layer.confidence} | "
                    f"{cell('; '.join(alternative_text(a) for a in layer.alternatives))} |" for layer in either[:50]]
            out += ["", "</details>"]
        sites = attention_sites(result.contract_fields())
        if sites:
            out += ["", "### Attention", "", "| Nodes | Kind | Heads | Head size | Verdict | Why |",
                    "|---|---|---:|---:|---|---|"]
            for s in sites:
                nodes = list(s.get("nodes", []))
                shown = ", ".join(nodes[:2]) + (" …" if len(nodes) > 2 else "")
                out.append(f"| {cell(shown)} | {s.get('kind', '')} | {s.get('num_heads', '')} | "
                           f"{s.get('head_size', '')} | {attention_verdict(s)} | "
                           f"{cell('; '.join(map(str, s.get('reasons', []))))} |")
        out += ["", "### Findings", "", *_findings_table(result.findings, locator)]
        out += ["### Run", "", "```bash", result.trtexec, "```", ""]
        profile = result.profile_command
        if isinstance(profile, str):
            out += ["<details><summary>Profile per layer</summary>", "", "```bash", profile, "```", "",
                    "</details>", ""]
        return "\n".join(out)

    def format_diff(self, diff: ModelDiff) -> str:
        locator = Locator(diff.new.model.path, diff.new.model.graph, self.options.root)
        old_loc = Locator(diff.old.model.path, diff.old.model.graph, self.options.root)
        (old_cov, new_cov), (old_n, new_n) = diff.coverage, diff.layer_counts
        verdict = "❌ regression" if any(f.rule in ("TRT501", "TRT502") for f in diff.findings) else "✅ no fusion lost"
        out = [f"## trtadvisor diff: {verdict}", "",
               f"{code(old_loc.model)} → {code(locator.model)}", "",
               "| | Old | New |", "|---|---:|---:|",
               f"| Predicted layers | {old_n} | {new_n} |",
               f"| Fusion coverage | {old_cov:.1%} | {new_cov:.1%} |",
               f"| Findings | {len(diff.old.findings)} | {len(diff.new.findings)} |", ""]
        if diff.lost or diff.gained:
            out += ["### Fusions lost and gained", "", "| | Fusion | Layer | Ops | Now |", "|---|---|---|---|---|"]
            out += [f"| ❌ lost | {code(c.fusion)} | {cell(c.layer)} | {cell(' '.join(c.ops))} | "
                    f"{cell(' / '.join(c.now))} |" for c in diff.lost]
            out += [f"| ✅ gained | {code(c.fusion)} | {cell(c.layer)} | {cell(' '.join(c.ops))} | "
                    f"{cell(' / '.join(c.now))} |" for c in diff.gained]
            out.append("")
        if diff.attention:
            out += ["### Attention verdicts that changed", "", "| Nodes | Old | New |", "|---|---|---|"]
            for a in diff.attention:
                old = attention_verdict(a.old) if a.old else "absent"
                new = attention_verdict(a.new) if a.new else "absent"
                out.append(f"| {cell(', '.join(a.nodes[:2]))} | {old} | {'❌ ' if a.regression else ''}{new} |")
            out.append("")
        out += ["### Regressions and new findings", "", *_findings_table(diff.findings, locator)]
        if diff.fixed_findings:
            out += [f"{len(diff.fixed_findings)} finding(s) of the old model are gone.", ""]
        return "\n".join(out)
