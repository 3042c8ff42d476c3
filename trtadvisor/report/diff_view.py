"""Rich rendering of ``trtadvisor diff``: coverage before and after, lost and gained fusions, layers side by side."""

from __future__ import annotations

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from trtadvisor.ci.diff import ModelDiff
from trtadvisor.report.text import escape_control, fold

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


class DiffView:
    def __init__(self, diff: ModelDiff, max_rows: int = 80) -> None:
        self.diff = diff
        self.max_rows = max_rows

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        yield self._summary(width)
        if self.diff.lost or self.diff.gained:
            yield self._fusions()
        if self.diff.attention:
            yield self._attention()
        yield self._layers(width)
        yield self._findings()

    def _summary(self, width: int = 120) -> Panel:
        d = self.diff
        (old_cov, new_cov), (old_n, new_n) = d.coverage, d.layer_counts
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold")
        grid.add_column(overflow="fold")
        room = max(16, width - 4 - 18 - 2)  # the panel's borders and padding, the label column and the gap
        # Paths fold at their separators: an ellipsis would hide which file is which.
        grid.add_row("Old", Text(fold(escape_control(d.old.model.path), room)))
        grid.add_row("New", Text(fold(escape_control(d.new.model.path), room)))
        grid.add_row("Target", f"TensorRT {d.new.target.trt}, SM {d.new.target.sm}, {d.new.target.precision}")
        grid.add_row("Predicted layers", f"{old_n} -> {new_n}")
        style = "red" if new_cov < old_cov else "green"
        grid.add_row("Fusion coverage", Text(f"{old_cov:.1%} -> {new_cov:.1%}", style=style))
        predicted = d.predicted_text()
        if predicted is not None:
            grid.add_row("Predicted time", Text(predicted, style="red" if (d.predicted_change or 0) > 0 else "green"))
        else:
            grid.add_row("Predicted time", Text("unknown (shapes not all known: give --shapes)", style="dim"))
        grid.add_row("Fusions", f"{len(d.lost)} lost, {len(d.gained)} gained")
        grid.add_row("Findings", f"{len(d.new_findings)} new, {len(d.fixed_findings)} fixed")
        return Panel(grid, title="trtadvisor diff", border_style="red" if d.lost else "green")

    def _fusions(self) -> Table:
        table = Table(title="Fusions lost and gained", title_justify="left")
        for column in ("", "fusion", "layer", "ops", "now"):
            table.add_column(column, overflow="fold")
        for change in self.diff.lost:
            table.add_row(Text("lost", style="bold red"), change.fusion, Text(escape_control(change.layer)),
                          " ".join(change.ops), Text(escape_control(" | ".join(change.now))))
        for change in self.diff.gained:
            table.add_row(Text("gained", style="green"), change.fusion, Text(escape_control(change.layer)),
                          " ".join(change.ops), Text(escape_control(" | ".join(change.now))))
        return table

    def _attention(self) -> Table:
        table = Table(title="Attention verdicts that changed", title_justify="left")
        for column in ("nodes", "old", "new"):
            table.add_column(column, overflow="fold")
        for change in self.diff.attention:
            old = change.old.get("fused") if change.old else "absent"
            new = change.new.get("fused") if change.new else "absent"
            table.add_row(Text(escape_control(", ".join(change.nodes[:3]))), f"fused={old}", Text(f"fused={new}",
                          style="red" if change.regression else ""))
        return table

    def _layers(self, width: int = 120) -> Table:
        table = Table(title="Predicted layers side by side (changed rows)", title_justify="left")
        changed = [row for row in self.diff.rows if row.changed]
        shown = changed[: self.max_rows]
        fusions = [(", ".join(row.old.fusions) if row.old else "", ", ".join(f for n in row.new for f in n.fusions))
                   for row in shown]
        # Fusion columns as wide as their longest name (at most 16); the names share the rest, given exact
        # widths so that they fold at separators, never inside a word.
        fusion_width = min(16, max((len(part) for pair in fusions for p in pair for part in p.split(", ")),
                                   default=8))
        room = max(20, width - 13 - 2 * fusion_width)  # 4 columns: 13 cells of borders and padding
        name_width = room // 2
        table.add_column("old layer", overflow="fold", width=name_width)
        table.add_column("old fusions", style="dim", overflow="fold", width=fusion_width)
        table.add_column("new layer(s)", overflow="fold", width=room - name_width)
        table.add_column("new fusions", style="dim", overflow="fold", width=fusion_width)
        for row, (old_fusions, new_fusions) in zip(shown, fusions, strict=True):
            table.add_row(Text(fold(escape_control(row.old.name), name_width)) if row.old
                          else Text("(added)", style="green"), fold(old_fusions, fusion_width),
                          Text(fold(escape_control(" | ".join(n.name for n in row.new)), room - name_width))
                          if row.new else Text("(removed)", style="red"), fold(new_fusions, fusion_width))
        if not changed:
            table.caption = "no layer changed"
        elif len(changed) > self.max_rows:
            table.caption = f"{len(changed) - self.max_rows} more changed rows: use --format json"
        return table

    def _findings(self) -> object:
        if not self.diff.findings:
            return Text("No regressions and no new findings.", style="green")
        table = Table(title="Regressions and new findings", title_justify="left", show_lines=True)
        table.add_column("Rule", no_wrap=True)
        table.add_column("Severity", no_wrap=True)
        table.add_column("Finding", overflow="fold")
        for f in self.diff.findings:
            body = Text(escape_control(f.message, keep_newlines=True))
            body.append("\nHint: ", style="bold")
            body.append(escape_control(f.hint, keep_newlines=True))
            table.add_row(f.rule, Text(f.severity, style=SEVERITY_STYLE.get(f.severity, "")), body)
        return Group(table)
