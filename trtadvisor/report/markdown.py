"""``--format markdown``: a pull-request comment (summary, the engine read, coverage, attention, findings,
the trtexec command).

GitHub-flavoured Markdown that also reads well on GitLab: tables, no HTML beyond ``<details>``. Identical
attention sites and repeated findings are grouped, and the comment fits GitHub's 65,536 characters: rows
are cut where needed and the comment says what was cut and where the full report is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from trtadvisor.api import AuditResult
from trtadvisor.ci.diff import ModelDiff
from trtadvisor.ci.source_locations import FindingLocation, Locator
from trtadvisor.knowledge.findings import Finding
from trtadvisor.report.common import (
    alternative_text,
    attention_sites,
    attention_verdict,
    comparison_label,
    confidence_text,
    confirm_data,
    cost_check_text,
    cost_pairs,
    coverage_by_kind,
    fusion_counts,
    group_findings,
    group_sites,
    hot_layers,
    op_types,
    pair_ratio,
    pattern_counts,
    precision_text,
    predicted_time_text,
    severity_counts,
    typing_text,
)
from trtadvisor.report.escape import markdown_cell, markdown_code
from trtadvisor.report.fit import GITHUB_COMMENT_LIMIT, Block, fit
from trtadvisor.report.formats import FormatOptions

ICON = {"error": "🔴", "warning": "🟠", "info": "🔵"}


def cell(text: object) -> str:
    """Text safe inside a table cell: no markup, pipes escaped, line breaks kept as <br>."""
    return "<br>".join(markdown_cell(line) for line in str(text).replace("\r", "").split("\n"))


def code(text: str) -> str:
    return markdown_code(text)


def _where(where: FindingLocation) -> str:
    if where.source is not None:
        node = f" ({code(where.node)})" if where.node else ""
        return f"{code(f'{where.source.file}:{where.source.line}')}{node}"
    if where.node:
        return code(where.node)
    return code(where.model)


def _findings_rows(findings: Sequence[Finding], locator: Locator) -> list[str]:
    rows = []
    for g in group_findings(findings):
        f = g.finding
        count = f"×{g.count} like this: " if g.count > 1 else ""
        rows.append(f"| {ICON.get(f.severity, '')} {f.severity} | {f.rule} | {_where(locator.locate(f.nodes))}"
                    f" | {cell(count + f.message)} | {cell(f.hint)} |")
    return rows


def _findings_block(findings: Sequence[Finding], locator: Locator, title: str) -> Block:
    if not findings:
        return Block(head=[title, "", "No findings. ✅", ""])
    return Block(head=[title, "", "| | Rule | Where | Finding | Fix |", "|---|---|---|---|---|"],
                 rows=_findings_rows(findings, locator), tail=[""], what="findings")


def _findings_table(findings: Sequence[Finding], locator: Locator) -> list[str]:
    return _findings_block(findings, locator, "").lines()[2:]


def _counts(findings: Sequence[Finding]) -> str:
    counts = severity_counts(findings)
    return ", ".join(f"{counts[s]} {s}" for s in ("error", "warning", "info"))


def _engine_blocks(result: AuditResult) -> list[Block]:
    """What confirming found: agreement, hot layers, missed and unpredicted layers, diagnosis."""
    confirm = confirm_data(result.contract_fields())
    if confirm is None:
        return []
    engine = confirm.engine
    about = ", ".join(str(x) for x in (f"TensorRT {engine.get('trt_version')}" if engine.get("trt_version") else "",
                                       engine.get("gpu") or "") if x)
    head = [f"### The engine read{f' ({about})' if about else ''}", ""]
    blocks: list[Block] = []
    c = confirm.comparison
    if c is not None:
        method = "layer signatures" if c.get("method") == "signatures" else "ONNX node names"
        head += [f"Prediction vs engine, by {method}: agreement **{100 * float(c.get('agreement', 0)):.0f}%** · "
                 f"{len(c.get('confirmed', []))} fusions confirmed · {len(c.get('missed', []))} missed · "
                 f"{len(c.get('unpredicted', []))} unpredicted", ""]
    blocks.append(Block(head=head))
    if confirm.bottlenecks:
        blocks.append(Block(
            head=[f"**Hot layers** (the {len(confirm.bottlenecks)} largest by time)", "",
                  "| # | Layer | ms | Share | Cause and advice |", "|---:|---|---:|---:|---|"],
            rows=[f"| {b.get('rank', i + 1)} | {code(str(b.get('layer')))} | "
                  f"{float(b.get('median_ms', 0)):.4f} | {float(b.get('percent', 0)):.1f}% | "
                  + (f"**{cell(b.get('rule'))}**: " + cell(f"{b.get('why')} Advice: {b.get('advice')}")
                     if b.get("rule") else "-")
                  + " |" for i, b in enumerate(confirm.bottlenecks)],
            tail=[""], what="hot layers"))
    check = confirm.cost_check
    if check is not None:
        pairs = cost_pairs(check, None)
        blocks.append(Block(
            head=[f"**Predicted vs measured time per layer**: {cell(cost_check_text(check))}", "",
                  f"<details><summary>The {len(pairs)} paired layers, slowest measured first</summary>", "",
                  "| Engine layer | Measured ms | Predicted ms | Predicted / measured | Predicted layer(s) |",
                  "|---|---:|---:|---:|---|"],
            rows=[f"| {code(str(p.get('engine_layer')))} | {float(p.get('measured_ms', 0)):.4f} | "
                  f"{float(p.get('predicted_ms', 0)):.4f} | {pair_ratio(p)} | "
                  f"{cell(', '.join(map(str, p.get('predicted_layers', []))))} |" for p in pairs],
            tail=["", "</details>", ""], what="paired layers"))
    if c is not None and (c.get("missed") or c.get("unpredicted") or c.get("kind_mismatches")):
        rows = [f"| ❌ missed | {code(comparison_label(m))} | {cell(m.get('reason', ''))} |"
                for m in c.get("missed", [])]
        rows += [f"| ❌ other kind | {code(str(k.get('predicted', '?')))} | {cell(_other_kind(k))} |"
                 for k in c.get("kind_mismatches", [])]
        rows += [f"| ➕ unpredicted | {code(str(u.get('engine_layer', '?')))} | "
                 f"{cell(', '.join(map(str, u.get('predicted_layers', []))) or u.get('lead', ''))} |"
                 for u in c.get("unpredicted", [])]
        blocks.append(Block(head=["**Where the engine differs from the prediction**", "",
                                  "| | Predicted / engine layer | Detail |", "|---|---|---|"], rows=rows,
                            tail=[""], what="comparison rows"))
    if confirm.diagnosis:
        blocks.append(Block(head=["**Diagnosis**", "", "| Rule | Finding | Evidence | Advice |", "|---|---|---|---|"],
                            rows=[f"| {cell(d.get('rule'))} | {cell(d.get('message'))} | {cell(d.get('evidence'))} | "
                                  f"{cell(d.get('advice'))} |" for d in confirm.diagnosis], tail=[""],
                            what="diagnosis rows"))
    return blocks


def _other_kind(item: Mapping[str, Any]) -> str:
    return (f"predicted {item.get('predicted_kind')}, the engine ran these nodes as one "
            f"{item.get('engine_kind')} layer ({item.get('engine_layer')})")


def _hot_block(result: AuditResult) -> Block | None:
    """The predicted total and the layers expected to dominate, before any build."""
    predicted = predicted_time_text(result)
    if predicted is None:
        return None
    hot = hot_layers(result)
    rows = [f"| {h.index} | {code(h.name)} | {h.kind} | {h.ms:.4f} | {h.share:.1%} | {h.bound} |" for h in hot]
    head = ["", "### Predicted hot layers", "", f"Predicted time: {predicted}."]
    if hot:
        head += ["", "| # | Layer | Kind | ms | Share | Bound |", "|---:|---|---|---:|---:|---|"]
    return Block(head=head, rows=rows, tail=[""], what="hot layers")


def _attention_block(result: AuditResult) -> Block | None:
    sites = attention_sites(result.contract_fields())
    if not sites:
        return None
    groups = group_sites(sites, op_types(result))
    title = f"### Attention: {len(sites)} sites" + (f" in {len(groups)} groups of identical sites"
                                                     if len(groups) < len(sites) else "")
    rows = []
    for g in groups:
        s = g.site
        names = ", ".join(g.softmaxes[:2]) + (f" and {g.count - 2} more" if g.count > 2 else "")
        count = f"×{g.count} " if g.count > 1 else ""
        causal = s.get("causal")
        dims = " | ".join(_d(s.get(k)) for k in ("num_heads", "num_kv_heads", "head_size", "seq_q", "seq_kv"))
        rows.append(f"| {cell(count)}{code(names)} | {s.get('kind', '')} | {dims} | {cell(_d(s.get('mask')))} | "
                    f"{'?' if causal is None else ('yes' if causal else 'no')} | {attention_verdict(s)} | "
                    f"{cell('; '.join(map(str, s.get('reasons', []))))} |")
    return Block(head=["", title, "",
                       "| Softmax | Kind | N_q | N_kv | H | S_q | S_kv | Mask | Causal | Verdict | Why |",
                       "|---|---|---:|---:|---:|---:|---:|---|---|---|---|"], rows=rows, tail=[""],
                 what="attention groups")


def _d(value: object) -> str:
    return "?" if value is None else str(value)


class MarkdownFormatter:
    def __init__(self, options: FormatOptions) -> None:
        self.options = options

    def format(self, result: AuditResult) -> str:
        locator = Locator(result.model.path, result.model.graph, self.options.root)
        p, t = result.prediction, result.target
        gpu = f" ({t.gpu})" if t.gpu else ""
        head = [f"## trtadvisor: {code(locator.model)}", "",
                f"**TensorRT {t.trt} · SM {t.sm}{gpu} · {t.precision}** — {p.node_count} ONNX nodes → "
                f"**{len(p.layers)}** predicted layers, {len(p.eliminated)} eliminated · fusion coverage "
                f"**{p.coverage:.1%}** · findings: {_counts(result.findings)}", "",
                f"Typing: {typing_text(t)} · layer precisions: {precision_text(p.layers)}", ""]
        baseline = result.baseline
        if baseline is not None and baseline.accepted:
            head += [f"{baseline.accepted} finding(s) accepted by the baseline {code(baseline.path)}"
                     " are not shown.", ""]
        blocks = [Block(head=head), *_engine_blocks(result)]
        blocks.append(Block(head=["### Fusion coverage by layer kind", "",
                                  "| Kind | Layers | Nodes | Fused nodes | Share |", "|---|---:|---:|---:|---:|"],
                            rows=[f"| {c.kind} | {c.layers} | {c.nodes} | {c.fused_nodes} | {c.share:.0%} |"
                                  for c in coverage_by_kind(p.layers)], what="layer kinds"))
        extra = []
        fusions = fusion_counts(p)
        if fusions:
            extra += ["", "Fusions: " + ", ".join(f"{code(f)} × {n}" for f, n in fusions)]
        patterns = pattern_counts(result.contract_fields())
        if patterns:
            extra += ["", "Recognised patterns: " + ", ".join(f"{code(name)} × {n}" for name, n in patterns)]
        extra += ["", f"How sure: {confidence_text(p.layers)}."]
        blocks.append(Block(head=extra))
        either = [layer for layer in p.layers if layer.alternatives]
        if either:
            blocks.append(Block(head=["", "<details><summary>Layers that could go another way</summary>", "",
                                      "| Layer | Kind | Confidence | Also seen |", "|---|---|---|---|"],
                                rows=[f"| {cell(layer.name)} | {layer.kind} | {layer.confidence} | "
                                      f"{cell('; '.join(alternative_text(a) for a in layer.alternatives))} |"
                                      for layer in either[:50]], tail=["", "</details>"],
                                what="layers with alternatives"))
        hot = _hot_block(result)
        if hot is not None:
            blocks.append(hot)
        attention = _attention_block(result)
        if attention is not None:
            blocks.append(attention)
        blocks.append(Block(head=[""]))
        blocks.append(_findings_block(result.findings, locator, "### Findings"))
        run = ["### Run", "", "```bash", result.trtexec, "```", ""]
        profile = result.profile_command
        if isinstance(profile, str):
            run += ["<details><summary>Profile per layer</summary>", "", "```bash", profile, "```", "",
                    "</details>", ""]
        blocks.append(Block(head=run))
        return fit(blocks, GITHUB_COMMENT_LIMIT, locator.model)

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
               f"| Findings | {len(diff.old.findings)} | {len(diff.new.findings)} |"]
        old_ms, new_ms = diff.predicted_ms
        if old_ms is not None and new_ms is not None:
            change = 100 * (diff.predicted_change or 0.0)
            out.append(f"| Predicted time (ms) | {old_ms:.3f} | {new_ms:.3f} ({change:+.1f}%) |")
        else:
            out.append("| Predicted time (ms) | unknown (shapes not all known: give --shapes) | |")
        out.append("")
        if diff.lost or diff.gained:
            out += ["### Fusions lost and gained", "", "| | Fusion | Layer | Ops | Now |", "|---|---|---|---|---|"]
            out += [f"| ❌ lost | {code(c.fusion)} | {code(c.layer)} | {cell(' '.join(c.ops))} | "
                    f"{cell(' / '.join(c.now))} |" for c in diff.lost]
            out += [f"| ✅ gained | {code(c.fusion)} | {code(c.layer)} | {cell(' '.join(c.ops))} | "
                    f"{cell(' / '.join(c.now))} |" for c in diff.gained]
            out.append("")
        if diff.attention:
            out += ["### Attention verdicts that changed", "", "| Nodes | Old | New |", "|---|---|---|"]
            for a in diff.attention:
                old = attention_verdict(a.old) if a.old else "absent"
                new = attention_verdict(a.new) if a.new else "absent"
                out.append(f"| {cell(', '.join(a.nodes[:2]))} | {old} | {'❌ ' if a.regression else ''}{new} |")
            out.append("")
        tail = [f"{len(diff.fixed_findings)} finding(s) of the old model are gone.", ""] if diff.fixed_findings else []
        blocks = [Block(head=out), _findings_block(diff.findings, locator, "### Regressions and new findings"),
                  Block(head=tail)]
        return fit(blocks, GITHUB_COMMENT_LIMIT, locator.model,
                   command=f"trtadvisor diff {old_loc.model} {locator.model}")
