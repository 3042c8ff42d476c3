"""The terminal report: summary, predicted engine, findings with hints, and the commands to run.

Data and look stay apart: :class:`AuditView` only renders an :class:`AuditResult` through
``__rich_console__``; nothing here computes a prediction.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from trtadvisor.api import AuditResult

if TYPE_CHECKING:
    from trtadvisor.ci.diff import ModelDiff
    from trtadvisor.report.formats import FormatOptions

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
DEFAULT_MAX_LAYERS = 80


class AuditView:
    def __init__(self, result: AuditResult, max_layers: int = DEFAULT_MAX_LAYERS) -> None:
        self.result = result
        self.max_layers = max_layers

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self._summary()
        yield self._layers()
        yield from self._extra_sections()
        yield self._findings()
        yield self._commands()

    def _summary(self) -> Panel:
        r = self.result
        p = r.prediction
        counts = Counter(f.severity for f in r.findings)
        kinds = Counter(layer.kind for layer in p.layers)
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold")
        grid.add_column()
        gpu = f" ({r.target.gpu})" if r.target.gpu else ""
        grid.add_row("Model", Text(f"{r.model.path}  opset {r.model.opset}  {p.node_count} nodes"))
        grid.add_row("Target", f"TensorRT {r.target.trt}, SM {r.target.sm}{gpu}, {r.target.precision}")
        grid.add_row("Predicted layers", f"{len(p.layers)}  ({', '.join(f'{k} {v}' for k, v in kinds.most_common())})")
        grid.add_row("Eliminated nodes", str(len(p.eliminated)))
        reformats = r.extras.get("reformats")
        if isinstance(reformats, list) and reformats:
            grid.add_row("Boundary reformats", ", ".join(
                f"{f['from'].upper()}->{f['to'].upper()} at {f['at']} '{f['tensor']}'" for f in reformats))
        grid.add_row("Fusion coverage", f"{p.coverage:.1%} of the nodes that run share a layer with another node")
        findings = Text()
        for sev in ("error", "warning", "info"):
            findings.append(f"{counts.get(sev, 0)} {sev}  ", style=SEVERITY_STYLE[sev])
        grid.add_row("Findings", findings)
        return Panel(grid, title="trtadvisor audit", border_style="green")

    def _layers(self) -> Table:
        layers = self.result.prediction.layers
        table = Table(title="Predicted engine", title_justify="left", show_lines=False, expand=False)
        table.add_column("#", justify="right", style="dim")
        table.add_column("Layer", overflow="fold")
        table.add_column("Kind")
        table.add_column("Fusions", style="green")
        table.add_column("Ops", style="dim", overflow="fold")
        for i, layer in enumerate(layers[: self.max_layers]):
            # Text(), not markup: layer names hold brackets ('{ForeignNode[a...b]}').
            table.add_row(str(i), Text(layer.name), layer.kind, ", ".join(layer.fusions), Text(_ops_text(layer.ops)))
        if len(layers) > self.max_layers:
            table.caption = f"{len(layers) - self.max_layers} more layers: use --format json for all of them"
        return table

    def _extra_sections(self) -> Iterable[object]:
        for key in ("attention_view", "qdq_view", "engine_view"):
            view = self.result.extras.get(key)
            if view is not None:
                yield view

    def _findings(self) -> object:
        findings = self.result.findings
        if not findings:
            return Text("No findings.", style="green")
        table = Table(title="Findings", title_justify="left", show_lines=True)
        table.add_column("Rule", no_wrap=True)
        table.add_column("Severity", no_wrap=True)
        table.add_column("Finding", overflow="fold")
        for f in findings:
            body = Text(f.message)
            body.append("\nHint: ", style="bold")
            body.append(f.hint)
            table.add_row(f.rule, Text(f.severity, style=SEVERITY_STYLE.get(f.severity, "")), body)
        return table

    def _commands(self) -> Panel:
        lines = [Text("Benchmark:", style="bold"), Text(self.result.trtexec)]
        profile = self.result.extras.get("profile_command")
        if isinstance(profile, str):
            lines += [Text("Profile per layer (then: trtadvisor audit MODEL --layer-info ... --profile ...):",
                           style="bold"), Text(profile)]
        return Panel(Group(*lines), title="Run", border_style="blue")


def _ops_text(ops: tuple[str, ...]) -> str:
    if len(ops) <= 6:
        return " ".join(ops)
    counts = Counter(ops)
    return ", ".join(f"{op} x{n}" if n > 1 else op for op, n in counts.most_common(6)) + ", ..."


def render_rich(result: AuditResult, width: int | None = None, color: bool = True,
                max_layers: int = DEFAULT_MAX_LAYERS) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width or 120, force_terminal=color, color_system="standard" if color else None,
                      no_color=not color, highlight=False)
    console.print(AuditView(result, max_layers=max_layers))
    return buffer.getvalue()


class RichFormatter:
    """``--format rich``: the terminal report (and the side-by-side table for ``diff``)."""

    def __init__(self, options: FormatOptions) -> None:
        self.options = options

    def format(self, result: AuditResult) -> str:
        return render_rich(result, color=self.options.color, max_layers=self.options.max_layers)

    def format_diff(self, diff: ModelDiff) -> str:
        from trtadvisor.report.diff_view import DiffView

        buffer = io.StringIO()
        color = self.options.color
        console = Console(file=buffer, width=120, force_terminal=color, color_system="standard" if color else None,
                          no_color=not color, highlight=False)
        console.print(DiffView(diff, max_rows=self.options.max_layers))
        return buffer.getvalue()
