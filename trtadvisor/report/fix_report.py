"""The ``trtadvisor fix`` report: what was rewritten, what was left and why, the proof, and the
predicted engine before and after. Text for a person, JSON for a script; computes nothing."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trtadvisor.fix.stage import EngineSummary, FixReport


def render_fix_json(report: FixReport) -> str:
    return json.dumps(report.to_json(), indent=1) + "\n"


def _engine_row(label: str, s: EngineSummary) -> str:
    latency = f", predicted latency {s.latency_ms:.3f} ms" if s.latency_ms is not None else ""
    if latency and s.latency_unknown_layers:
        latency += f" ({s.latency_unknown_layers} layer(s) without a cost, left out)"
    return (f"  {label:<7} {s.nodes} nodes -> {s.layers} predicted layers, fusion coverage "
            f"{s.fusion_coverage:.1%}, {sum(s.findings.values())} finding(s){latency}")


def render_fix_text(report: FixReport) -> str:
    lines: list[str] = []
    head = "plan (dry run)" if report.dry_run else "fix"
    lines.append(f"trtadvisor {head}: {report.model}" + (f" -> {report.output}" if report.output else ""))
    by_rewrite: dict[str, list] = {}
    for change in report.changes:
        by_rewrite.setdefault(f"{change.rewrite} ({change.code})", []).append(change)
    lines.append("")
    lines.append(f"rewrites ({len(report.changes)} site(s)):" if report.changes else "rewrites: none applies")
    for key, changes in by_rewrite.items():
        lines.append(f"  {key}: {len(changes)}")
        for change in changes[:6]:
            where = change.nodes[0] if change.nodes else "graph"
            lines.append(f"    - {where}: {change.detail}")
        if len(changes) > 6:
            lines.append(f"    ... {len(changes) - 6} more")
    if report.skips:
        lines.append("")
        lines.append(f"skipped ({len(report.skips)}):")
        for skip in report.skips[:20]:
            where = f"{skip.nodes[0]}: " if skip.nodes else ""
            lines.append(f"  - {skip.rewrite} ({skip.code}) {where}{skip.reason}")
        if len(report.skips) > 20:
            lines.append(f"  ... {len(report.skips) - 20} more")
    for note in report.notes:
        lines.append(f"note: {note}")
    if not report.dry_run and report.changes:
        lines.append("")
        lines.append("proof:")
        lines.append(f"  onnx.checker: {report.checker}")
        numeric = report.numeric
        if numeric is not None:
            if numeric.ran:
                verdict = "outputs agree" if numeric.passed else f"REFUSED: {numeric.reason}"
                lines.append(f"  onnxruntime (seeded random inputs): {verdict}")
                for out in numeric.outputs:
                    diff = out.get("max_abs_diff")
                    tol = f" (rtol {out['rtol']:g}, atol {out['atol']:g})" if "rtol" in out else ""
                    lines.append(f"    {out['name']} {out['shape']} {out['dtype']}: max |diff| "
                                 f"{'n/a' if diff is None else f'{diff:.3g}'}{tol}")
            else:
                lines.append(f"  onnxruntime: not compared ({numeric.reason})")
    if report.before is not None or report.after is not None:
        lines.append("")
        lines.append("predicted engine:")
        lines.append(_engine_row("before", report.before) if report.before else "  before  (cannot be audited)")
        if report.after is not None:
            lines.append(_engine_row("after", report.after))
            resolved = report.resolved
            if resolved:
                lines.append("  resolved: " + ", ".join(f"{code} x{n}" for code, n in resolved.items()))
            left = {c: n for c, n in report.after.findings.items()}
            if left:
                lines.append("  left: " + ", ".join(f"{code} x{n}" for code, n in left.items()))
    lines.append("")
    if report.refused:
        lines.append(f"not written: {report.refused}")
    elif report.written:
        lines.append(f"written: {report.output}")
    elif report.dry_run:
        lines.append("dry run: nothing written")
    return "\n".join(lines) + "\n"
