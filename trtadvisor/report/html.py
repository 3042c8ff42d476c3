"""``--format html``: one self-contained page (inline CSS, SVG and a little JS; no network).

Plots where people would rather look than read: fusion coverage by layer kind, the fusions found,
attention verdicts (when the audit has ``attention``) and per-layer time
(when an engine was read, ``engine``). Everything else is a table. Every text that comes
from the model is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from trtadvisor import __version__
from trtadvisor.api import AuditResult
from trtadvisor.ci.diff import ModelDiff
from trtadvisor.ci.source_locations import Locator
from trtadvisor.knowledge.findings import Finding
from trtadvisor.report.common import (
    alternative_text,
    attention_sites,
    attention_verdict,
    confidence_text,
    coverage_by_kind,
    engine_layers,
    fusion_counts,
    layer_time,
    precision_text,
    severity_counts,
    typing_text,
)
from trtadvisor.report.formats import FormatOptions

MAX_LAYER_ROWS = 2000  # the page must stay light on 100k-node graphs; JSON has every layer
MAX_TIME_BARS = 25

CSS = """
:root{--fg:#1d2330;--muted:#5d6b82;--line:#dfe3ea;--bg:#f6f7f9;--card:#fff;--fused:#2e9d62;--alone:#c9d1dc;
--error:#d1383d;--warning:#e08a00;--info:#2f74c0;--time:#6a5acd;--lost:#d1383d;--gained:#2e9d62}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:var(--fg);background:var(--bg)}header{background:#1d2330;color:#fff;padding:18px 28px}
header h1{margin:0 0 4px;font-size:20px}header .sub{color:#b8c2d3;font-size:13px;word-break:break-all}
main{padding:20px 28px;max-width:1220px}section{background:var(--card);border:1px solid var(--line);
border-radius:8px;padding:16px 20px;margin:0 0 18px}h2{font-size:16px;margin:0 0 12px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:0 0 18px}.card{background:var(--card);border:1px solid var(--line);
border-radius:8px;padding:12px 16px;min-width:150px}.card .v{font-size:24px;font-weight:600}
.card .k{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);
vertical-align:top}th{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.03em}
td.num{text-align:right;font-variant-numeric:tabular-nums}code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;
font-size:12.5px}pre{background:#f0f2f5;padding:10px;border-radius:6px;white-space:pre-wrap;word-break:break-all}
.sev{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px}
.sev.error{background:var(--error)}.sev.warning{background:var(--warning)}.sev.info{background:var(--info)}
.hint{color:var(--muted)}.filters button{border:1px solid var(--line);background:#fff;border-radius:14px;
padding:3px 12px;margin:0 6px 10px 0;cursor:pointer}.filters button.on{background:#1d2330;color:#fff}
svg text{font:12px system-ui,sans-serif;fill:var(--fg)}svg .muted{fill:var(--muted)}
.legend span{display:inline-block;margin-right:14px;color:var(--muted);font-size:12px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:5px;border-radius:2px;vertical-align:middle}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:18px}@media(max-width:900px){.grid2{grid-template-columns:1fr}}
.lost{color:var(--lost);font-weight:600}.gained{color:var(--gained);font-weight:600}
footer{color:var(--muted);font-size:12px;padding:0 28px 24px}
"""

JS = """
document.querySelectorAll('.filters').forEach(function(bar){
  var table=document.getElementById(bar.dataset.table);
  bar.querySelectorAll('button').forEach(function(b){
    b.addEventListener('click',function(){
      b.classList.toggle('on');
      var on=Array.prototype.map.call(bar.querySelectorAll('button.on'),function(x){return x.dataset.sev;});
      table.querySelectorAll('tbody tr').forEach(function(r){r.style.display=on.indexOf(r.dataset.sev)>=0?'':'none';});
    });
  });
});
"""


@dataclass(frozen=True)
class Bar:
    """One row of a horizontal bar chart: a label and stacked segments (value, CSS colour, tooltip)."""

    label: str
    segments: tuple[tuple[float, str, str], ...]
    note: str = ""


def bar_chart(chart_id: str, title: str, bars: Sequence[Bar], width: int = 560, label_width: int = 170,
              note_width: int = 80) -> str:
    """A horizontal stacked bar chart as inline SVG; ``note_width`` is kept free for the longest bar's note."""
    row, top = 24, 8
    height = top + row * len(bars) + 8
    scale_max = max((sum(v for v, _, _ in b.segments) for b in bars), default=0.0) or 1.0
    plot = width - label_width - note_width
    parts = [f'<svg id="{escape(chart_id)}" class="chart" role="img" aria-label="{escape(title)}" '
             f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
             f"<title>{escape(title)}</title>"]
    for i, b in enumerate(bars):
        y = top + i * row
        fits = max(8, label_width // 7)  # about 7 px per character at 12 px
        label = b.label if len(b.label) <= fits else b.label[: fits - 1] + "…"
        parts.append(f'<text x="{label_width - 8}" y="{y + 15}" text-anchor="end"><title>{escape(b.label)}</title>'
                     f"{escape(label)}</text>")
        x = float(label_width)
        for value, colour, tip in b.segments:
            w = plot * value / scale_max
            if w <= 0:
                continue
            parts.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="16" rx="2" fill="{colour}">'
                         f"<title>{escape(tip)}</title></rect>")
            x += w
        parts.append(f'<text class="muted" x="{x + 6:.1f}" y="{y + 15}">{escape(b.note)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def legend(items: Sequence[tuple[str, str]]) -> str:
    return '<div class="legend">' + "".join(f'<span><i style="background:{c}"></i>{escape(t)}</span>'
                                            for t, c in items) + "</div>"


def _page(title: str, subtitle: str, body: Sequence[str]) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "script-src 'unsafe-inline'; img-src data:\">"
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{escape(title)}</h1><div class=\"sub\">{escape(subtitle)}</div></header><main>"
        + "".join(body)
        + f"</main><footer>trtadvisor {escape(__version__)} · predicted from the ONNX graph; confirm with the "
        "engine's layer information.</footer><script>" + JS + "</script></body></html>\n"
    )


def _cards(items: Sequence[tuple[str, str]]) -> str:
    return '<div class="cards">' + "".join(f'<div class="card"><div class="v">{escape(v)}</div>'
                                           f'<div class="k">{escape(k)}</div></div>' for k, v in items) + "</div>"


def _findings(findings: Sequence[Finding], locator: Locator, table_id: str) -> str:
    if not findings:
        return "<section><h2>Findings</h2><p>No findings.</p></section>"
    counts = severity_counts(findings)
    buttons = "".join(f'<button class="on" data-sev="{s}">{s} ({counts[s]})</button>'
                      for s in ("error", "warning", "info") if counts[s])
    rows = []
    for f in findings:
        where = locator.locate(f.nodes)
        place = (f"{where.source.file}:{where.source.line}" if where.source is not None else where.model)
        node = f"<br><code>{escape(where.node)}</code>" if where.node else ""
        rows.append(f'<tr data-sev="{escape(f.severity)}"><td><span class="sev {escape(f.severity)}">'
                    f"{escape(f.severity)}</span></td><td><code>{escape(f.rule)}</code></td>"
                    f"<td><code>{escape(place)}</code>{node}</td><td>{escape(f.message)}"
                    f'<div class="hint">Hint: {escape(f.hint)}</div></td></tr>')
    return (f'<section><h2>Findings</h2><div class="filters" data-table="{table_id}">{buttons}</div>'
            f'<table id="{table_id}"><thead><tr><th>Severity</th><th>Rule</th><th>Where</th><th>Finding</th></tr>'
            f"</thead><tbody>{''.join(rows)}</tbody></table></section>")


def _coverage_section(result: AuditResult) -> str:
    kinds = coverage_by_kind(result.prediction.layers)
    bars = [Bar(c.kind, ((c.fused_nodes, "var(--fused)", f"{c.fused_nodes} nodes fused with others"),
                         (c.nodes - c.fused_nodes, "var(--alone)", f"{c.nodes - c.fused_nodes} nodes alone")),
                f"{c.share:.0%} of {c.nodes}") for c in kinds]
    fusions = fusion_counts(result.prediction)
    fusion_bars = [Bar(f, ((n, "var(--fused)", f"{n} layers with {f}"),), str(n)) for f, n in fusions]
    right = (bar_chart("fusions-by-type", "Fusions by type", fusion_bars, width=520)
             if fusion_bars else "<p>No fusions predicted.</p>")
    return ('<section><h2>Fusion coverage by layer kind</h2><div class="grid2"><div>'
            + bar_chart("coverage-by-kind", "Fusion coverage by layer kind", bars)
            + legend((("fused with another node", "var(--fused)"), ("runs alone", "var(--alone)")))
            + "</div><div><h2>Fusions by type</h2>" + right + "</div></div></section>")


def _attention_section(sites: Sequence[Mapping[str, Any]]) -> str:
    if not sites:
        return ""
    order = ("fused", "not fused", "unknown")
    colour = {"fused": "var(--fused)", "not fused": "var(--error)", "unknown": "var(--alone)"}
    counts = {v: sum(1 for s in sites if attention_verdict(s) == v) for v in order}
    bars = [Bar(v, ((counts[v], colour[v], f"{counts[v]} attention blocks {v}"),), str(counts[v]))
            for v in order if counts[v]]
    rows = "".join(
        f"<tr><td><code>{escape(', '.join(map(str, list(s.get('nodes', []))[:3])))}</code></td>"
        f"<td>{escape(str(s.get('kind', '')))}</td><td class=num>{escape(str(s.get('num_heads', '')))}</td>"
        f"<td class=num>{escape(str(s.get('head_size', '')))}</td><td>{escape(attention_verdict(s))}</td>"
        f"<td>{escape('; '.join(map(str, s.get('reasons', []))))}</td></tr>" for s in sites)
    return ('<section><h2>Attention verdicts</h2>' + bar_chart("attention-verdicts", "Attention verdicts", bars)
            + "<table><thead><tr><th>Nodes</th><th>Kind</th><th>Heads</th><th>Head size</th><th>Verdict</th>"
            f"<th>Why</th></tr></thead><tbody>{rows}</tbody></table></section>")


def _time_section(fields: Mapping[str, Any]) -> str:
    layers = engine_layers(fields)
    if not layers:
        return ""
    total = sum(layer_time(layer) for layer in layers) or 1.0
    bars = [Bar(str(layer.get("name", "?")),
                ((layer_time(layer), "var(--time)", f"{layer.get('name')}: {layer_time(layer):.4f} ms"),),
                f"{layer_time(layer):.3f} ms ({100 * layer_time(layer) / total:.1f}%)")
            for layer in layers[:MAX_TIME_BARS]]
    engine = fields.get("engine")
    known = [f"TensorRT {engine.get(k)}" if k == "trt_version" else str(engine.get(k))
             for k in ("trt_version", "gpu") if isinstance(engine, Mapping) and engine.get(k)]
    head = f" ({', '.join(known)})" if known else ""
    return (f"<section><h2>Per-layer time of the engine read{escape(head)}</h2>"
            + bar_chart("layer-time", "Per-layer median time", bars, width=1100, label_width=420, note_width=140)
            + (f"<p class=hint>{len(layers) - MAX_TIME_BARS} faster layers not shown.</p>"
               if len(layers) > MAX_TIME_BARS else "") + "</section>")


def _layers_section(result: AuditResult) -> str:
    layers = result.prediction.layers
    rows = "".join(f"<tr><td class=num>{i}</td><td>{escape(layer.name)}</td><td>{escape(layer.kind)}</td>"
                   f"<td>{escape(layer.confidence)}</td>"
                   f"<td>{escape('; '.join(alternative_text(a) for a in layer.alternatives))}</td>"
                   f"<td>{escape(layer.precision or '')}</td><td>{escape(', '.join(layer.fusions))}</td>"
                   f"<td><code>{escape(' '.join(layer.ops[:12]))}"
                   f"{' …' if len(layer.ops) > 12 else ''}</code></td></tr>"
                   for i, layer in enumerate(layers[:MAX_LAYER_ROWS]))
    more = (f"<p class=hint>{len(layers) - MAX_LAYER_ROWS} more layers: use --format json.</p>"
            if len(layers) > MAX_LAYER_ROWS else "")
    return (f"<section><details><summary><b>Predicted engine: {len(layers)} layers</b> "
            f"({escape(confidence_text(layers))})</summary>"
            "<table><thead><tr><th>#</th><th>Layer</th><th>Kind</th><th>Confidence</th><th>Also seen</th>"
            "<th>Precision</th><th>Fusions</th><th>Ops</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>{more}</details></section>")


class HtmlFormatter:
    def __init__(self, options: FormatOptions) -> None:
        self.options = options

    def format(self, result: AuditResult) -> str:
        locator = Locator(result.model.path, result.model.graph, self.options.root)
        p, t = result.prediction, result.target
        counts = severity_counts(result.findings)
        gpu = f" ({t.gpu})" if t.gpu else ""
        cards = _cards((("ONNX nodes", str(p.node_count)), ("predicted layers", str(len(p.layers))),
                        ("eliminated", str(len(p.eliminated))), ("fusion coverage", f"{p.coverage:.1%}"),
                        ("errors", str(counts["error"])), ("warnings", str(counts["warning"])),
                        ("info", str(counts["info"]))))
        commands = f"<section><h2>Run</h2><pre>{escape(result.trtexec)}</pre>"
        profile = result.profile_command
        if isinstance(profile, str):
            commands += f"<p>Profile per layer:</p><pre>{escape(profile)}</pre>"
        commands += "</section>"
        body = [cards, _coverage_section(result), _attention_section(attention_sites(result.contract_fields())),
                _time_section(result.contract_fields()), _findings(result.findings, locator, "findings"),
                _layers_section(result), commands]
        return _page(f"trtadvisor: {locator.model}",
                     f"TensorRT {t.trt} · SM {t.sm}{gpu} · {t.precision} · {typing_text(t)} · "
                     f"layer precisions: {precision_text(p.layers)} · opset {result.model.opset}", body)

    def format_diff(self, diff: ModelDiff) -> str:
        locator = Locator(diff.new.model.path, diff.new.model.graph, self.options.root)
        old_loc = Locator(diff.old.model.path, diff.old.model.graph, self.options.root)
        (old_cov, new_cov), (old_n, new_n) = diff.coverage, diff.layer_counts
        cards = _cards((("fusions lost", str(len(diff.lost))), ("fusions gained", str(len(diff.gained))),
                        ("coverage", f"{old_cov:.1%} → {new_cov:.1%}"), ("layers", f"{old_n} → {new_n}"),
                        ("new findings", str(len(diff.new_findings)))))
        bars = [Bar("old", ((old_cov * 100, "var(--alone)", f"old: {old_cov:.1%}"),), f"{old_cov:.1%}"),
                Bar("new", ((new_cov * 100, "var(--fused)" if new_cov >= old_cov else "var(--lost)",
                             f"new: {new_cov:.1%}"),), f"{new_cov:.1%}")]
        kinds_old = {c.kind: c for c in coverage_by_kind(diff.old.prediction.layers)}
        kinds_new = {c.kind: c for c in coverage_by_kind(diff.new.prediction.layers)}
        kind_bars = []
        for kind in sorted(set(kinds_old) | set(kinds_new)):
            o, n = kinds_old.get(kind), kinds_new.get(kind)
            kind_bars.append(Bar(f"{kind} (old)", ((o.fused_nodes if o else 0, "var(--alone)", "old fused nodes"),),
                                 f"{o.fused_nodes if o else 0} fused"))
            kind_bars.append(Bar(f"{kind} (new)", ((n.fused_nodes if n else 0, "var(--fused)", "new fused nodes"),),
                                 f"{n.fused_nodes if n else 0} fused"))
        changes = "".join(
            f'<tr><td class="{cls}">{label}</td><td><code>{escape(c.fusion)}</code></td><td>{escape(c.layer)}</td>'
            f"<td><code>{escape(' '.join(c.ops))}</code></td><td>{escape(' | '.join(c.now))}</td></tr>"
            for cls, label, group in (("lost", "lost", diff.lost), ("gained", "gained", diff.gained)) for c in group)
        fusion_table = ("<section><h2>Fusions lost and gained</h2>"
                        + ("<table id=\"fusion-changes\"><thead><tr><th></th><th>Fusion</th><th>Layer</th><th>Ops</th>"
                           f"<th>Now</th></tr></thead><tbody>{changes}</tbody></table>" if changes
                           else "<p>No fusion changed.</p>") + "</section>")
        attention = ""
        if diff.attention:
            rows = "".join(f"<tr><td><code>{escape(', '.join(a.nodes[:3]))}</code></td>"
                           f"<td>{escape(attention_verdict(a.old) if a.old else 'absent')}</td>"
                           f'<td class="{"lost" if a.regression else ""}">'
                           f"{escape(attention_verdict(a.new) if a.new else 'absent')}</td></tr>"
                           for a in diff.attention)
            attention = ("<section><h2>Attention verdicts that changed</h2><table><thead><tr><th>Nodes</th>"
                         f"<th>Old</th><th>New</th></tr></thead><tbody>{rows}</tbody></table></section>")
        changed = [row for row in diff.rows if row.changed][:MAX_LAYER_ROWS]
        side = "".join(f"<tr><td>{escape(row.old.name) if row.old else '<i>added</i>'}</td>"
                       f"<td>{escape(', '.join(row.old.fusions)) if row.old else ''}</td>"
                       f"<td>{escape(' | '.join(n.name for n in row.new)) or '<i>removed</i>'}</td>"
                       f"<td>{escape(', '.join(f for n in row.new for f in n.fusions))}</td></tr>" for row in changed)
        side_section = ("<section><h2>Predicted layers side by side (changed rows)</h2><table><thead><tr>"
                        "<th>Old layer</th><th>Old fusions</th><th>New layer(s)</th><th>New fusions</th></tr></thead>"
                        f"<tbody>{side}</tbody></table></section>") if changed else ""
        plots = ('<section><h2>Fusion coverage before and after</h2><div class="grid2"><div>'
                 + bar_chart("coverage-before-after", "Fusion coverage before and after", bars)
                 + "</div><div>" + bar_chart("fused-nodes-by-kind", "Fused nodes by kind", kind_bars, width=520)
                 + "</div></div></section>")
        body = [cards, plots, fusion_table, attention, _findings(diff.findings, locator, "findings"), side_section]
        return _page(f"trtadvisor diff: {old_loc.model} → {locator.model}",
                     f"TensorRT {diff.new.target.trt} · SM {diff.new.target.sm} · {diff.new.target.precision}", body)
