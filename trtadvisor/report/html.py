"""``--format html``: one self-contained page (inline CSS, SVG and a little JS; no network).

Plots where people would rather look than read: fusion coverage by layer kind, the fusions found,
attention verdicts (when the audit has ``attention``) and per-layer time
(when an engine was read, ``engine``). Everything else is a table. Every text that comes
from the model is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
from trtadvisor.report.escape import html_text as escape
from trtadvisor.report.formats import FormatOptions

MAX_LAYER_ROWS = 2000  # the page must stay light on 100k-node graphs; JSON has every layer

CSS = """
:root{--fg:#1d2330;--muted:#5d6b82;--line:#dfe3ea;--bg:#f6f7f9;--card:#fff;--fused:#2e9d62;--alone:#c9d1dc;
--error:#d1383d;--warning:#e08a00;--info:#2f74c0;--time:#6a5acd;--lost:#d1383d;--gained:#2e9d62}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:var(--fg);background:var(--bg)}header{background:#1d2330;color:#fff;padding:18px 28px}
header h1{margin:0 0 4px;font-size:20px}header .sub{color:#b8c2d3;font-size:13px;word-break:break-all}
main{padding:20px 28px;max-width:1220px}section{background:var(--card);border:1px solid var(--line);
border-radius:8px;padding:16px 20px;margin:0 0 18px;overflow-x:auto}h2{font-size:16px;margin:0 0 12px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:0 0 18px}.card{background:var(--card);border:1px solid var(--line);
border-radius:8px;padding:12px 16px;min-width:150px}.card .v{font-size:24px;font-weight:600}
.card .k{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
table{border-collapse:collapse;width:100%}td,h1,h2,h3,p,.card{overflow-wrap:anywhere}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);
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
.cmd{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px;background:#f0f2f5;padding:10px;
border-radius:6px;overflow-x:auto}.cmd .arg{white-space:nowrap}h3{font-size:14px;margin:14px 0 8px}
.count{font-weight:600;color:var(--muted)}svg.chart{display:block}td.num,td.code{white-space:nowrap}
@media(max-width:700px){svg.chart.wide{display:none}main{padding:12px}header{padding:14px 12px}
section{padding:12px}th,td{padding:4px}th{letter-spacing:0;text-transform:none}}
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


def bar_chart(chart_id: str, title: str, bars: Sequence[Bar], width: int = 560, label_width: int | None = None,
              note_width: int | None = None) -> str:
    """A horizontal stacked bar chart as inline SVG. Labels and notes get the room their text needs (about
    7 px a character at 12 px), so no note is clipped; the chart scales down with the page."""
    row, top = 24, 8
    height = top + row * len(bars) + 8
    scale_max = max((sum(v for v, _, _ in b.segments) for b in bars), default=0.0) or 1.0
    longest_label = max((len(b.label) for b in bars), default=4)
    if label_width is None:
        label_width = min(width // 2, max(60, 7 * longest_label + 16))
    if note_width is None:
        note_width = max(40, 7 * max((len(b.note) for b in bars), default=4) + 14)
    plot = max(60, width - label_width - note_width)
    width = label_width + plot + note_width
    # A chart drawn wider than a phone shrinks its text below legibility there: it is marked 'wide', and
    # on a narrow window the table beside it (the same figures) stands alone.
    wide = " wide" if width > 800 else ""
    parts = [f'<svg id="{escape(chart_id)}" class="chart{wide}" role="img" aria-label="{escape(title)}" '
             f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" preserveAspectRatio="xMinYMin meet" '
             f'style="max-width:100%;height:auto" xmlns="http://www.w3.org/2000/svg">',
             f"<title>{escape(title)}</title>"]
    for i, b in enumerate(bars):
        y = top + i * row
        fits = max(8, (label_width - 8) // 7)
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


PREDICTED_FOOTER = "predicted from the ONNX graph; confirm with the engine's layer information"


def footer_note(fields: Mapping[str, Any]) -> str:
    """What the page rests on: the prediction alone, or the prediction held against an engine read."""
    confirm = confirm_data(fields)
    if confirm is None:
        return PREDICTED_FOOTER
    c = confirm.comparison
    agreement = f", agreement {100 * float(c.get('agreement', 0)):.0f}%" if c is not None else ""
    return (f"predicted from the ONNX graph and confirmed against the engine read "
            f"({len(confirm.engine.get('layers', []))} engine layers{agreement})")


def command_html(command: str) -> str:
    """A command line that wraps only between its arguments, never inside a flag or a path."""
    return ('<div class="cmd">' + " ".join(f'<span class="arg">{escape(arg)}</span>' for arg in command.split(" "))
            + "</div>")


def _page(title: str, subtitle: str, body: Sequence[str], footer: str = PREDICTED_FOOTER) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "script-src 'unsafe-inline'; img-src data:\">"
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{escape(title)}</h1><div class=\"sub\">{escape(subtitle)}</div></header><main>"
        + "".join(body)
        + f"</main><footer>trtadvisor {escape(__version__)} · {escape(footer)}.</footer><script>" + JS
        + "</script></body></html>\n"
    )


def _predicted_card(diff: ModelDiff) -> str:
    """'0.828 → 0.900 ms (+8.7%) on A100': the predicted latency before and after, or why it is unknown."""
    old, new = diff.predicted_ms
    if old is None or new is None:
        return "unknown (shapes not all known: give --shapes)"
    gpu = diff.new.cost.gpu.name if diff.new.cost is not None and diff.new.cost.gpu is not None else "the target"
    return f"{old:.3f} → {new:.3f} ms ({100 * (diff.predicted_change or 0.0):+.1f}%) on {gpu}"


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
    for g in group_findings(findings)[:MAX_LAYER_ROWS]:
        f = g.finding
        where = locator.locate(f.nodes)
        place = (f"{where.source.file}:{where.source.line}" if where.source is not None else where.model)
        node = f"<br><code>{escape(where.node)}</code>" if where.node else ""
        count = f'<span class="count">×{g.count} like this one</span> ' if g.count > 1 else ""
        rows.append(f'<tr data-sev="{escape(f.severity)}"><td><span class="sev {escape(f.severity)}">'
                    f"{escape(f.severity)}</span></td><td class=code><code>{escape(f.rule)}</code></td>"
                    f"<td><code>{escape(place)}</code>{node}</td><td>{count}{escape(f.message)}"
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
    fusion_bars = [Bar(f, ((n, "var(--fused)", f"{n} {f} fusion(s)"),), str(n)) for f, n in fusions]
    right = (bar_chart("fusions-by-type", "Fusions by type", fusion_bars, width=520)
             if fusion_bars else "<p>No fusions predicted.</p>")
    return ('<section><h2>Fusion coverage by layer kind</h2><div class="grid2"><div>'
            + bar_chart("coverage-by-kind", "Fusion coverage by layer kind", bars)
            + legend((("fused with another node", "var(--fused)"), ("runs alone", "var(--alone)")))
            + "</div><div><h2>Fusions by type</h2>" + right + "</div></div></section>")


def _attention_section(sites: Sequence[Mapping[str, Any]], op_of: Mapping[str, str]) -> str:
    if not sites:
        return ""
    order = ("fused", "not fused", "unknown")
    colour = {"fused": "var(--fused)", "not fused": "var(--error)", "unknown": "var(--alone)"}
    counts = {v: sum(1 for s in sites if attention_verdict(s) == v) for v in order}
    bars = [Bar(v, ((counts[v], colour[v], f"{counts[v]} attention sites {v}"),), str(counts[v]))
            for v in order if counts[v]]
    groups = group_sites(sites, op_of)
    rows = []
    for g in groups[:MAX_LAYER_ROWS]:
        s = g.site
        more = f" and {g.count - 3} more" if g.count > 3 else ""
        where = escape(", ".join(g.softmaxes[:3])) + escape(more)
        count = f'<span class="count">×{g.count}</span> ' if g.count > 1 else ""
        causal = s.get("causal")
        cells = [_d(s.get(k)) for k in ("num_heads", "num_kv_heads", "head_size", "seq_q", "seq_kv")]
        rows.append(
            f"<tr><td>{count}<code>{where}</code></td><td>{escape(str(s.get('kind', '')))}</td>"
            + "".join(f"<td class=num>{escape(c)}</td>" for c in cells)
            + f"<td>{escape(_d(s.get('mask')))}</td><td>{'?' if causal is None else ('yes' if causal else 'no')}</td>"
            f"<td>{escape(attention_verdict(s))}</td><td>{escape('; '.join(map(str, s.get('reasons', []))))}</td></tr>")
    title = f"Attention verdicts: {len(sites)} sites" + (
        f" in {len(groups)} group(s) of identical sites" if len(groups) < len(sites) else "")
    return (f'<section id="attention"><h2>{escape(title)}</h2>'
            + bar_chart("attention-verdicts", "Attention verdicts", bars)
            + '<table id="attention-sites"><thead><tr><th>Softmax</th><th>Kind</th><th>N_q</th><th>N_kv</th>'
            "<th>H</th><th>S_q</th><th>S_kv</th><th>Mask</th><th>Causal</th><th>Verdict</th><th>Why</th></tr>"
            f"</thead><tbody>{''.join(rows)}</tbody></table></section>")


def _d(value: object) -> str:
    return "?" if value is None else str(value)


def _patterns_section(fields: Mapping[str, Any]) -> str:
    counts = pattern_counts(fields)
    if not counts:
        return ""
    bars = [Bar(name, ((n, "var(--fused)", f"{n} {name}"),), str(n)) for name, n in counts]
    rows = "".join(f"<tr><td>{escape(name)}</td><td class=num>{n}</td></tr>" for name, n in counts)
    return ('<section id="patterns"><h2>Recognised patterns</h2><div class="grid2"><div>'
            + bar_chart("pattern-counts", "Recognised patterns", bars)
            + f'</div><div><table><thead><tr><th>Pattern</th><th>Instances</th></tr></thead><tbody>{rows}'
            "</tbody></table></div></div></section>")


def _engine_section(fields: Mapping[str, Any]) -> str:
    confirm = confirm_data(fields)
    if confirm is None:
        return ""
    engine = confirm.engine
    known = [f"TensorRT {engine.get('trt_version')}" if engine.get("trt_version") else "",
             str(engine.get("gpu") or "")]
    head = ", ".join(k for k in known if k)
    out = [f'<section id="engine"><h2>The engine read{escape(f" ({head})" if head else "")}</h2>']
    hot = confirm.bottlenecks
    if hot:
        bars = [Bar(str(b.get("layer", "?")), ((float(b.get("median_ms", 0)), "var(--time)",
                                                 f"{b.get('layer')}: {float(b.get('median_ms', 0)):.4f} ms"),),
                    f"{float(b.get('median_ms', 0)):.3f} ms ({float(b.get('percent', 0)):.1f}%)") for b in hot]
        rows = "".join(
            f"<tr><td class=num>{escape(str(b.get('rank', i + 1)))}</td><td><code>{escape(str(b.get('layer')))}"
            f"</code></td><td class=num>{float(b.get('median_ms', 0)):.4f}</td>"
            f"<td class=num>{float(b.get('percent', 0)):.1f}%</td><td>"
            + (f"<b>{escape(str(b.get('rule')))}</b>: {escape(str(b.get('why', '')))}"
               f"<div class=hint>Advice: {escape(str(b.get('advice', '')))}</div>" if b.get("rule") else "-")
            + "</td></tr>" for i, b in enumerate(hot))
        out.append(f"<h3>Hot layers: the {len(hot)} largest by time</h3>"
                   + bar_chart("hot-layers", "Hot layers", bars, width=1100)
                   + '<table id="hot-layers-table"><thead><tr><th>#</th><th>Layer</th><th>ms</th><th>Share</th>'
                   f"<th>Cause and advice</th></tr></thead><tbody>{rows}</tbody></table>")
    c = confirm.comparison
    if c is not None:
        confirmed, missed, unpredicted = (list(c.get(k, [])) for k in ("confirmed", "missed", "unpredicted"))
        method = "by layer signatures" if c.get("method") == "signatures" else "by ONNX node names"
        out.append(f"<h3>Prediction vs engine ({escape(method)})</h3>"
                   + _cards((("agreement", f"{100 * float(c.get('agreement', 0)):.0f}%"),
                             ("fusions confirmed", str(len(confirmed))), ("missed", str(len(missed))),
                             ("unpredicted", str(len(unpredicted))))))
        rows = [f'<tr><td class="lost">missed</td><td><code>{escape(comparison_label(m))}</code></td>'
                f"<td>{escape(str(m.get('reason', '')))}</td></tr>" for m in missed[:MAX_LAYER_ROWS]]
        rows += [f'<tr><td class="lost">other kind</td><td><code>{escape(str(k.get("predicted", "?")))}</code></td>'
                 f"<td>predicted {escape(str(k.get('predicted_kind')))}, the engine ran these nodes as one "
                 f"{escape(str(k.get('engine_kind')))} layer ({escape(str(k.get('engine_layer')))})</td></tr>"
                 for k in list(c.get("kind_mismatches", []))[:MAX_LAYER_ROWS]]
        rows += [f'<tr><td>unpredicted</td><td><code>{escape(str(u.get("engine_layer", "?")))}</code></td>'
                 f"<td>{escape(', '.join(map(str, u.get('predicted_layers', []))) or str(u.get('lead', '')))}"
                 "</td></tr>" for u in unpredicted[:MAX_LAYER_ROWS]]
        if rows:
            out.append('<table id="comparison"><thead><tr><th>Result</th><th>Predicted / engine layer</th>'
                       f"<th>Detail</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")
    check = confirm.cost_check
    if check is not None:
        pairs = cost_pairs(check, MAX_LAYER_ROWS)
        rows_html = "".join(
            f"<tr><td><code>{escape(str(p.get('engine_layer')))}</code></td>"
            f"<td class=num>{float(p.get('measured_ms', 0)):.4f}</td>"
            f"<td class=num>{float(p.get('predicted_ms', 0)):.4f}</td><td class=num>{escape(pair_ratio(p))}</td>"
            f"<td>{escape(', '.join(map(str, p.get('predicted_layers', []))))}</td></tr>" for p in pairs)
        # Folded: the figures are the line a reader needs; the paired layers are there for a closer look.
        out.append(f"<h3>Predicted vs measured time per layer</h3><p>{escape(cost_check_text(check))}.</p>"
                   f"<details><summary>The {len(pairs)} paired layers, slowest measured first (ms; ratio = "
                   "predicted / measured)</summary>"
                   '<table id="cost-check"><thead><tr><th>Engine layer</th><th>Measured</th><th>Predicted</th>'
                   f"<th>Ratio</th><th>Predicted layers</th></tr></thead><tbody>{rows_html}"
                   "</tbody></table></details>")
    if confirm.diagnosis:
        rows = "".join(f"<tr><td><code>{escape(str(d.get('rule')))}</code></td><td>{escape(str(d.get('message')))}"
                       f"<div class=hint>Evidence: {escape(str(d.get('evidence')))}</div>"
                       f"<div class=hint>Advice: {escape(str(d.get('advice')))}</div></td></tr>"
                       for d in confirm.diagnosis)
        out.append(f'<h3>Diagnosis</h3><table id="diagnosis"><tbody>{rows}</tbody></table>')
    out.append("</section>")
    return "".join(out)


def _hot_section(result: AuditResult) -> str:
    predicted = predicted_time_text(result)
    if predicted is None:
        return ""
    hot = hot_layers(result)
    rows = "".join(f"<tr><td class=num>{h.index}</td><td>{escape(h.name)}</td><td>{escape(h.kind)}</td>"
                   f"<td class=num>{h.ms:.4f}</td><td class=num>{h.share:.1%}</td><td>{h.bound}</td></tr>"
                   for h in hot)
    table = ("<table><thead><tr><th>#</th><th>Layer</th><th>Kind</th><th>ms</th><th>Share</th><th>Bound</th>"
             f"</tr></thead><tbody>{rows}</tbody></table>") if hot else ""
    return f"<section><h2>Predicted hot layers</h2><p>Predicted time: {escape(predicted)}.</p>{table}</section>"


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
        commands = f"<section><h2>Run</h2>{command_html(result.trtexec)}"
        profile = result.profile_command
        if isinstance(profile, str):
            commands += f"<p>Profile per layer:</p>{command_html(profile)}"
        commands += "</section>"
        fields = result.contract_fields()
        sites = attention_sites(fields)
        body = [cards, _engine_section(fields), _hot_section(result), _coverage_section(result),
                _patterns_section(fields),
                _attention_section(sites, op_types(result) if sites else {}),
                _findings(result.findings, locator, "findings"), _layers_section(result), commands]
        return _page(f"trtadvisor: {locator.model}",
                     f"TensorRT {t.trt} · SM {t.sm}{gpu} · {t.precision} · {typing_text(t)} · "
                     f"layer precisions: {precision_text(p.layers)} · opset {result.model.opset}", body,
                     footer_note(fields))

    def format_diff(self, diff: ModelDiff) -> str:
        locator = Locator(diff.new.model.path, diff.new.model.graph, self.options.root)
        old_loc = Locator(diff.old.model.path, diff.old.model.graph, self.options.root)
        (old_cov, new_cov), (old_n, new_n) = diff.coverage, diff.layer_counts
        cards = _cards((("fusions lost", str(len(diff.lost))), ("fusions gained", str(len(diff.gained))),
                        ("coverage", f"{old_cov:.1%} → {new_cov:.1%}"), ("layers", f"{old_n} → {new_n}"),
                        ("new findings", str(len(diff.new_findings))), ("predicted time", _predicted_card(diff))))
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


def zoo_index(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], links: Sequence[str | None],
              failed: Sequence[bool]) -> str:
    """The index page of a zoo run: the summary table, each model linked to its own page."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for cells, link, bad in zip(rows, links, failed, strict=True):
        name = f'<a href="{escape(link)}"><code>{escape(cells[0])}</code></a>' if link else \
            f"<code>{escape(cells[0])}</code>"
        rest = "".join(f"<td{' class=num' if i < 5 else ''}>{escape(c)}</td>" for i, c in enumerate(cells[1:]))
        body.append(f'<tr{" class=lost" if bad else ""}><td>{name}</td>{rest}</tr>')
    table = (f'<section><h2>Models</h2><table id="zoo"><thead><tr>{head}</tr></thead>'
             f"<tbody>{''.join(body)}</tbody></table></section>")
    return _page(title, f"{len(rows)} models; each name links to its report", [table],
                 footer="predicted from the ONNX graphs; one page per model")
