"""The terminal report: summary, predicted engine, attention, engine confirmation, findings, commands.

Data and look stay apart: :class:`AuditView` only renders an :class:`AuditResult` through
``__rich_console__``; nothing here computes a prediction. The layout follows the width the console
gives (the terminal's, or ``COLUMNS``); every name from the model is escaped and folded at separators.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from trtadvisor.api import AuditResult
from trtadvisor.report.common import (
    attention_sites,
    confidence_text,
    confirm_data,
    cost_check_text,
    group_findings,
    group_sites,
    hot_layers,
    op_types,
    pattern_counts,
    precision_text,
    predicted_time_text,
    typing_text,
)
from trtadvisor.report.engine_rich import EngineView
from trtadvisor.report.qdq_view import QdqView
from trtadvisor.report.text import escape_control, fold

if TYPE_CHECKING:
    from trtadvisor.ci.diff import ModelDiff
    from trtadvisor.report.formats import FormatOptions

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
DEFAULT_MAX_LAYERS = 80
DEFAULT_WIDTH = 120
MIN_WIDTH = 40
MAX_GROUP_NAMES = 3  # node names spelled out for a group of repeated sites or findings


def safe(text: object, width: int | None = None) -> Text:
    """Model text for the terminal: control characters escaped, folded at separators to ``width``."""
    clean = escape_control(str(text))
    return Text(fold(clean, max(8, width)) if width else clean)


def fold_words(text: str, width: int) -> str:
    """Prose with long unbroken words (node names, paths) folded at separators, so the terminal wraps
    between words and, inside a name, after a ``/`` or ``_`` rather than mid-word."""
    if width <= 8:
        return text
    return " ".join(fold(word, width) if len(word) > width else word for word in text.split(" "))


def _names(names: Sequence[str], count: int) -> str:
    shown = ", ".join(names[:MAX_GROUP_NAMES])
    return shown + (f" and {count - MAX_GROUP_NAMES} more" if count > MAX_GROUP_NAMES else "")


class AuditView:
    def __init__(self, result: AuditResult, max_layers: int = DEFAULT_MAX_LAYERS, all_layers: bool = False) -> None:
        self.result = result
        self.max_layers = max_layers
        self.all_layers = all_layers

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        yield self._summary(width)
        yield self._layers(width)
        hot = self._hot_layers(width)
        if hot is not None:
            yield hot
        attention = self._attention(width)
        if attention is not None:
            yield attention
        yield from self._extra_sections()
        yield self._findings(width)
        yield self._commands(width)

    def _summary(self, width: int) -> Panel:
        r = self.result
        p = r.prediction
        counts = Counter(f.severity for f in r.findings)
        kinds = Counter(layer.kind for layer in p.layers)
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column()
        value_width = max(20, width - 24)
        gpu = f" ({r.target.gpu})" if r.target.gpu else ""
        model = safe(r.model.path, value_width)
        model.append(f"  opset {r.model.opset}  {p.node_count} nodes")
        grid.add_row("Model", model)
        grid.add_row("Target", f"TensorRT {r.target.trt}, SM {r.target.sm}{gpu}, {r.target.precision}")
        grid.add_row("Typing", typing_text(r.target))
        grid.add_row("Layer precisions", precision_text(p.layers))
        grid.add_row("Predicted layers", f"{len(p.layers)}  ({', '.join(f'{k} {v}' for k, v in kinds.most_common())})")
        grid.add_row("Eliminated nodes", str(len(p.eliminated)))
        reformats = r.reformats
        if reformats:
            grid.add_row("Boundary reformats", safe(reformats_text(reformats)))
        grid.add_row("Fusion coverage", f"{p.coverage:.1%} of the nodes that run share a layer with another node")
        predicted = predicted_time_text(r)
        if predicted is not None:
            grid.add_row("Predicted time", predicted)
        plan = r.schedule
        if plan is not None:
            grid.add_row("Critical path", f"{plan.critical_path_ms:.3f} ms over {len(plan.critical_path)} "
                         f"layers; auxiliary streams could overlap up to {plan.overlappable_ms:.3f} ms "
                         f"({plan.parallel_layers} layers off the path, at most {plan.max_width} side by side)")
        patterns = pattern_counts(r.contract_fields())
        if patterns:
            grid.add_row("Patterns", ", ".join(f"{name} x{n}" for name, n in patterns))
        confirm = confirm_data(r.contract_fields())
        if confirm is not None and confirm.comparison is not None:
            c = confirm.comparison
            grid.add_row("Engine read", f"agreement {100 * float(c.get('agreement', 0)):.0f}% "
                         f"({c.get('method', 'names')}): {len(c.get('confirmed', []))} fusions confirmed, "
                         f"{len(c.get('missed', []))} missed, {len(c.get('unpredicted', []))} unpredicted")
        if confirm is not None and confirm.cost_check is not None:
            grid.add_row("Cost check", Text(escape_control(cost_check_text(confirm.cost_check))))
        if confirm is not None and confirm.bottlenecks:
            hot = confirm.bottlenecks[0]
            grid.add_row("Hottest layer", safe(f"{hot.get('layer')}: {float(hot.get('median_ms', 0)):.4f} ms "
                                               f"({float(hot.get('percent', 0)):.1f}%)", value_width))
        findings = Text()
        for sev in ("error", "warning", "info"):
            findings.append(f"{counts.get(sev, 0)} {sev}  ", style=SEVERITY_STYLE[sev])
        grid.add_row("Findings", findings)
        return Panel(grid, title="trtadvisor audit", border_style="green")

    def _layers(self, width: int) -> Table:
        layers = self.result.prediction.layers
        table = Table(title="Predicted engine", title_justify="left", show_lines=False, expand=False)
        table.add_column("#", justify="right", style="dim", no_wrap=True)
        table.add_column("Layer", overflow="fold")
        table.add_column("Kind", no_wrap=True)
        table.add_column("Sure", no_wrap=True)  # confidence: observed / documented / inferred (+ alternatives)
        table.add_column("Fusions", style="green", overflow="fold")
        table.add_column("Precision · ops", style="dim", overflow="fold")  # precision first: the ops fold
        shown = layers[: self.max_layers]
        index_width = len(str(max(0, len(shown) - 1)))
        kind_width = max((len(layer.kind) for layer in shown), default=4)
        room = max(30, width - 16 - index_width - kind_width)  # 5 columns: 16 cells of borders and padding
        # The Sure column (7 cells and 3 of padding) is taken from fusions and ops, never from the name.
        name_width, fusion_width = room * 9 // 20, max(8, room * 5 // 20 - 5)
        ops_width = max(8, room - name_width - fusion_width - 10)
        for i, layer in enumerate(shown):
            # Text(), not markup: layer names hold brackets ('{ForeignNode[a...b]}').
            sure = layer.confidence[:3] + (f" +{len(layer.alternatives)}" if layer.alternatives else "")
            ops = f"{layer.precision} · {_ops_text(layer.ops)}" if layer.precision else _ops_text(layer.ops)
            table.add_row(str(i), safe(layer.name, name_width), layer.kind, sure,
                          Text(fold(", ".join(layer.fusions), fusion_width)), safe(ops, ops_width))
        caption = [f"Sure: obs(erved in a real engine of this build), doc(umented), inf(erred); +N: N other "
                   f"builds seen ({confidence_text(layers)})"]
        if len(layers) > self.max_layers:
            caption.append(f"{len(layers) - self.max_layers} more layers: use --format json for all of them")
        table.caption = "\n".join(caption)
        return table

    def _hot_layers(self, width: int) -> Table | None:
        hot = hot_layers(self.result)
        if not hot:
            return None
        table = Table(title="Predicted hot layers (roofline on the target GPU, before any build)",
                      title_justify="left", expand=False)
        table.add_column("#", justify="right", style="dim", no_wrap=True)
        table.add_column("Layer", overflow="fold")
        table.add_column("Kind", no_wrap=True)
        table.add_column("ms", justify="right", no_wrap=True)
        table.add_column("Share", justify="right", no_wrap=True)
        table.add_column("Bound", no_wrap=True)
        name_width = max(20, width - 50)
        for h in hot:
            table.add_row(str(h.index), safe(h.name, name_width), h.kind, f"{h.ms:.4f}", f"{h.share:.1%}", h.bound)
        return table

    def _attention(self, width: int) -> Table | None:
        sites = attention_sites(self.result.contract_fields())
        if not sites:
            return None
        t = self.result.target
        groups = group_sites(sites, op_types(self.result))
        title = f"Attention (SM {t.sm}, {t.precision.upper()}, TensorRT {t.trt}): {len(sites)} sites"
        if len(groups) < len(sites):
            title += f" in {len(groups)} group(s) of identical sites"
        table = Table(title=title, title_justify="left", show_lines=len(groups) > 1)
        table.add_column("Softmax", overflow="fold")
        for column in ("Kind", "N_q", "N_kv", "H", "S_q", "S_kv", "Mask", "Causal"):
            table.add_column(column, no_wrap=True)
        table.add_column("Verdict", overflow="fold")
        table.add_column("Why", overflow="fold")
        room = max(20, width - 70)
        for g in groups:
            s = g.site
            verdict = {True: Text("fused", style="green"), False: Text("not fused", style="yellow")}.get(
                s.get("fused"), Text("unknown", style="cyan"))
            where = fold(escape_control(_names(g.softmaxes, g.count)), room // 2)
            label = Text(f"x{g.count} ", style="bold") if g.count > 1 else Text()
            label.append(where)
            causal = s.get("causal")
            table.add_row(label, str(s.get("kind", "")), _d(s.get("num_heads")), _d(s.get("num_kv_heads")),
                          _d(s.get("head_size")), _d(s.get("seq_q")), _d(s.get("seq_kv")), _d(s.get("mask")),
                          "?" if causal is None else ("yes" if causal else "no"), verdict,
                          safe(fold_words("; ".join(map(str, s.get("reasons", []))), room // 2)))
        return table

    def _extra_sections(self) -> Iterable[object]:
        if self.result.quantization is not None:
            yield QdqView(self.result.quantization)
        evidence = self.result.engine
        if evidence is not None:
            yield EngineView(evidence.engine, evidence.bottlenecks, evidence.diagnosis, evidence.comparison,
                             all_layers=self.all_layers, cost_check=confirm_data(self.result.contract_fields()
                                                                                 ).cost_check)  # type: ignore[union-attr]

    def _findings(self, width: int) -> object:
        findings = self.result.findings
        if not findings:
            return Text("No findings.", style="green")
        groups = group_findings(findings)
        title = "Findings" if len(groups) == len(findings) else f"Findings ({len(findings)} in {len(groups)} groups)"
        table = Table(title=title, title_justify="left", show_lines=True)
        table.add_column("Rule", no_wrap=True)
        table.add_column("Severity", no_wrap=True)
        table.add_column("Finding", overflow="fold")
        room = max(20, width - 26)
        for g in groups:
            f = g.finding
            body = Text()
            if g.count > 1:
                body.append(f"x{g.count} like this one: ", style="bold")
            body.append(escape_control(fold_words(f.message, room), keep_newlines=True))
            body.append("\nHint: ", style="bold")
            body.append(escape_control(fold_words(f.hint, room), keep_newlines=True))
            table.add_row(f.rule, Text(f.severity, style=SEVERITY_STYLE.get(f.severity, "")), body)
        return table

    def _commands(self, width: int) -> Panel:
        room = max(20, width - 4)
        lines = [Text("Benchmark:", style="bold"), safe(fold_words(self.result.trtexec, room))]
        profile = self.result.profile_command
        if isinstance(profile, str):
            lines += [Text("Profile per layer (then: trtadvisor audit MODEL --layer-info ... --profile ...):",
                           style="bold"), safe(fold_words(profile, room))]
        return Panel(Group(*lines), title="Run", border_style="blue")


def _d(value: Any) -> str:
    return "?" if value is None else str(value)


def _ops_text(ops: tuple[str, ...]) -> str:
    if len(ops) <= 6:
        return " ".join(ops)
    counts = Counter(ops)
    return ", ".join(f"{op} x{n}" if n > 1 else op for op, n in counts.most_common(6)) + ", ..."


def make_console(buffer: io.StringIO, width: int | None, color: bool) -> Console:
    """A console writing to ``buffer`` at ``width`` columns, with colour codes only when ``color``."""
    return Console(file=buffer, width=max(MIN_WIDTH, width or DEFAULT_WIDTH), force_terminal=color,
                   color_system="standard" if color else None, no_color=not color, highlight=False,
                   emoji=False, markup=False)


def render_rich(result: AuditResult, width: int | None = None, color: bool = True,
                max_layers: int = DEFAULT_MAX_LAYERS, all_layers: bool = False) -> str:
    buffer = io.StringIO()
    make_console(buffer, width, color).print(AuditView(result, max_layers=max_layers, all_layers=all_layers))
    return buffer.getvalue()


class RichFormatter:
    """``--format rich``: the terminal report (and the side-by-side table for ``diff``)."""

    def __init__(self, options: FormatOptions) -> None:
        self.options = options

    def format(self, result: AuditResult) -> str:
        o = self.options
        return render_rich(result, width=o.width, color=o.color, max_layers=o.max_layers, all_layers=o.all_layers)

    def format_diff(self, diff: ModelDiff) -> str:
        from trtadvisor.report.diff_view import DiffView

        buffer = io.StringIO()
        make_console(buffer, self.options.width, self.options.color).print(
            DiffView(diff, max_rows=self.options.max_layers))
        return buffer.getvalue()


_REFORMATS_SHOWN = 4  # a detector's post-processing has dozens of casts: the panel names a few


def _reformat_ms(reformat: dict[str, Any]) -> str:
    cost = reformat.get("cost")
    return f" ({cost['ms']:.3f} ms)" if isinstance(cost, dict) else ""


def reformats_text(reformats: list[dict[str, Any]]) -> str:
    """The first few conversions (with their predicted time where priced), then how many more and of which
    kinds (JSON lists every one)."""
    shown = [f"{f['from'].upper()}->{f['to'].upper()} at {f['at']} '{f['tensor']}'{_reformat_ms(f)}"
             for f in reformats[:_REFORMATS_SHOWN]]
    rest = reformats[_REFORMATS_SHOWN:]
    if rest:
        kinds = Counter(f"{f['from'].upper()}->{f['to'].upper()}" for f in rest)
        shown.append(f"and {len(rest)} more ({', '.join(f'{k} x{n}' for k, n in kinds.most_common())}; "
                     "--format json lists all)")
    return ", ".join(shown)

