"""Rich rendering of an engine: hot layers, the layer table, comparison with the prediction, diagnosis.

Pure rendering. Every name comes from an artifact, so it is escaped (``report.text``) before it reaches
the terminal; long names fold at separators to the width the console gives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.table import Table
from rich.text import Text

from trtadvisor.confirm.compare import Comparison
from trtadvisor.confirm.diagnose import Bottleneck, Diagnosis, layer_shares
from trtadvisor.confirm.model import Engine, EngineLayer
from trtadvisor.confirm.stage import EngineReport
from trtadvisor.report.common import comparison_label, cost_check_text, cost_pairs, pair_ratio
from trtadvisor.report.text import escape_control, fold

BAR_WIDTH = 30
MAX_COMPARISON_ROWS = 20  # missed and unpredicted rows each; the JSON report lists them all


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def _nodes(nodes: Sequence[str], limit: int = 4) -> str:
    shown = ", ".join(nodes[:limit])
    return shown + (f" (+{len(nodes) - limit})" if len(nodes) > limit else "")


def _name(text: object, width: int) -> Text:
    return Text(fold(escape_control(str(text)), max(8, width)))


@dataclass(frozen=True)
class EngineView:
    """An engine and what was found about it, as one rich renderable."""

    engine: Engine
    bottlenecks: Sequence[Bottleneck] = ()
    diagnosis: Sequence[Diagnosis] = ()
    comparison: Comparison | None = None
    top: int = 10
    max_layers: int | None = 60
    all_layers: bool = False  # show the layers that took no time (NoOps, bookkeeping) too
    cost_check: Mapping[str, Any] | None = None  # the ``cost_check`` contract field, when the audit has one

    def _header(self) -> Text:
        engine = self.engine
        parts = [
            f"TensorRT {engine.trt_version or '?'}",
            f"GPU {escape_control(engine.gpu or '?')}" + (f" (SM {engine.sm})" if engine.sm else ""),
            f"{len(engine.layers)} layers",
        ]
        if engine.total_ms is not None:
            parts.append(f"{engine.total_ms:.4f} ms per inference (sum of layers)")
        return Text(" | ".join(parts), style="bold")

    def _shown_layers(self) -> tuple[list[tuple[int, EngineLayer]], int]:
        """The layers of the table with their engine index, and how many zero-time layers were hidden."""
        timed = any(layer.time_ms is not None for layer in self.engine.layers)
        rows: list[tuple[int, EngineLayer]] = []
        hidden = 0
        for index, layer in enumerate(self.engine.layers):
            if timed and not self.all_layers and not (layer.time_ms or 0.0) > 0.0:
                hidden += 1
                continue
            rows.append((index, layer))
        return rows, hidden

    def _layer_table(self, width: int) -> Table:
        shares = {id(s.layer): s.percent for s in layer_shares(self.engine)}
        rows, hidden = self._shown_layers()
        shown = rows if self.max_layers is None else rows[: self.max_layers]
        mapped = any(layer.onnx_nodes for _, layer in shown)
        type_width = max((len(layer.type or "") for _, layer in shown), default=4)
        fixed = 4 + type_width + 5 + 7 + 6 + 3 * (7 if mapped else 6) + 1  # #, type, prec, ms, share, borders
        room = max(16, width - fixed)
        name_width = room * 3 // 5 if mapped else room
        nodes_width = max(8, room - name_width)
        table = Table(title="Engine layers (engine order)", title_justify="left", expand=False)
        table.add_column("#", justify="right", style="dim", no_wrap=True)
        table.add_column("layer", overflow="fold")
        table.add_column("type", overflow="fold")
        table.add_column("prec", no_wrap=True)
        table.add_column("ms", justify="right", no_wrap=True)
        table.add_column("share", justify="right", no_wrap=True)
        if mapped:
            table.add_column("ONNX nodes", overflow="fold")
        for index, layer in shown:
            cells: list[object] = [str(index), _name(layer.name, name_width), escape_control(layer.type or ""),
                                   layer.precision or "", _ms(layer.time_ms), _pct(shares.get(id(layer)))]
            if mapped:
                cells.append(_name(_nodes(layer.onnx_nodes), nodes_width))
            table.add_row(*cells)
        notes = []
        if len(shown) < len(rows):
            notes.append(f"{len(rows) - len(shown)} more layers not shown")
        if hidden:
            notes.append(f"{hidden} layers that took no time hidden (--all-layers shows them)")
        if notes:
            table.caption = "; ".join(notes)
        return table

    def _hot_layers(self, width: int) -> Table | None:
        if not self.bottlenecks:
            return None
        measure = "median" if all(b.measure == "median" for b in self.bottlenecks) else "time"
        table = Table(title=f"Hot layers: the {len(self.bottlenecks)} largest by {measure} time",
                      title_justify="left", show_lines=True)
        table.add_column("#", justify="right", style="dim")
        table.add_column("layer", overflow="fold")
        table.add_column("ms", justify="right", no_wrap=True)
        table.add_column("share", justify="right", no_wrap=True)
        table.add_column("", no_wrap=True)
        table.add_column("cause and advice", overflow="fold")
        bar_width = 10 if width < 100 else 16
        name_width = max(16, (width - 36 - bar_width) * 2 // 5)
        largest = max(b.percent for b in self.bottlenecks) or 1.0
        for b in self.bottlenecks:
            filled = round(bar_width * b.percent / largest)  # bars relative to the hottest layer
            bar = Text("█" * filled + "·" * (bar_width - filled), style="cyan")
            cause = Text()
            if b.rule:
                cause.append(f"{b.rule}: ", style="bold")
                cause.append(escape_control(b.why))
                cause.append("\nAdvice: ", style="bold")
                cause.append(escape_control(b.advice))
            else:
                cause.append("-", style="dim")
            table.add_row(str(b.rank or ""), _name(b.layer, name_width), _ms(b.median_ms), _pct(b.percent), bar,
                          cause)
        return table

    def _comparison(self, width: int) -> Table | None:
        if self.comparison is None:
            return None
        c = self.comparison
        method = "by layer signatures (op types in order)" if c.method == "signatures" else "by ONNX node names"
        sure = ", ".join(f"{level} {row['matched']}/{row['total']}" for level, row in c.calibration.items()
                         if row.get("total"))
        table = Table(title=f"Prediction vs engine ({method}): agreement {100 * c.agreement:.0f}% (nodes and "
                      f"kind; nodes alone {100 * c.grouping_agreement:.0f}%), "
                      f"{len(c.confirmed)} fusions confirmed, {len(c.missed)} missed, {len(c.unpredicted)} "
                      f"unpredicted" + (f"; matched by confidence: {sure}" if sure else ""), title_justify="left")
        table.add_column("result", no_wrap=True)
        table.add_column("predicted / engine layer", overflow="fold")
        table.add_column("detail", overflow="fold")
        name_width = max(16, (width - 20) // 2)
        for item in c.missed[:MAX_COMPARISON_ROWS]:
            split = item.get("engine_layers")
            detail = f"split into {', '.join(map(str, split))}: " if split else ""
            table.add_row(Text("missed", style="red"), _name(comparison_label(item), name_width),
                          Text(escape_control(detail + str(item.get("reason", "")))))
        for item in c.unpredicted[:MAX_COMPARISON_ROWS]:
            joins = item.get("predicted_layers")
            detail = f"joins {', '.join(map(str, joins))}" if joins else str(item.get("lead", ""))
            if item.get("ops") and not joins:
                detail = f"ops {' + '.join(map(str, item['ops']))}: {detail}"
            table.add_row(Text("unpredicted", style="yellow"), _name(item.get("engine_layer", "?"), name_width),
                          Text(escape_control(detail)))
        for item in c.kind_mismatches[:MAX_COMPARISON_ROWS]:
            table.add_row(Text("other kind", style="red"), _name(str(item.get("engine_layer", "?")), name_width),
                          Text(escape_control(f"predicted {item.get('predicted_kind')}, "
                                              f"the engine ran these nodes {item.get('engine_kind')}")))
        more = max(0, len(c.missed) - MAX_COMPARISON_ROWS) + max(0, len(c.unpredicted) - MAX_COMPARISON_ROWS)
        if more:
            table.caption = f"{more} more rows: use --format json"
        if not c.missed and not c.unpredicted and not c.kind_mismatches:
            table.add_row(Text("confirmed", style="green"), "every compared layer", "as predicted")
        return table

    def _cost_check(self, width: int) -> Table | None:
        check = self.cost_check
        if not check:
            return None
        table = Table(title=f"Predicted vs measured time per layer: {escape_control(cost_check_text(check))}",
                      title_justify="left")
        # Fixed columns (11 + 12 + 9 characters), 2 of padding per column and 6 borders: the rest is for
        # the two name columns, given exact widths so that names fold at separators, never inside a word.
        room = max(32, width - 32 - 10 - 6)
        engine_width, predicted_width = room * 2 // 5, room - room * 2 // 5
        table.add_column("engine layer", overflow="fold", width=engine_width)
        table.add_column("measured ms", justify="right", no_wrap=True)
        table.add_column("predicted ms", justify="right", no_wrap=True)
        table.add_column("pred/meas", justify="right", no_wrap=True)
        table.add_column("predicted layer(s)", overflow="fold", width=predicted_width)
        pairs = cost_pairs(check)
        for pair in pairs:
            table.add_row(_name(pair.get("engine_layer", "?"), engine_width), _ms(pair.get("measured_ms")),
                          _ms(pair.get("predicted_ms")), pair_ratio(pair),
                          _name(", ".join(map(str, pair.get("predicted_layers", []))), predicted_width))
        more = len(check.get("pairs", [])) - len(pairs)
        if more > 0:
            table.caption = f"{more} more paired layers: use --format json"
        return table

    def _diagnosis(self) -> Table | None:
        if not self.diagnosis:
            return None
        table = Table(title="Diagnosis", title_justify="left", show_lines=True)
        table.add_column("rule", no_wrap=True)
        table.add_column("finding", overflow="fold")
        for d in self.diagnosis:
            body = Text(escape_control(d.message))
            body.append("\nEvidence: ", style="bold")
            body.append(escape_control(d.evidence))
            body.append("\nAdvice: ", style="bold")
            body.append(escape_control(d.advice))
            table.add_row(d.rule, body)
        return table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        parts = [
            self._header(),
            self._hot_layers(width),
            self._comparison(width),
            self._cost_check(width),
            self._diagnosis(),
            self._layer_table(width),
        ]
        yield Group(*(part for part in parts if part is not None))


def render_engine_report(report: EngineReport, color: bool = True, width: int = 120, all_layers: bool = False) -> str:
    """`trtadvisor engine` in the terminal: the engine view of a report read without a model."""
    import io

    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=color, color_system="standard" if color else None,
                      no_color=not color, highlight=False)
    console.print(EngineView(report.engine, report.bottlenecks, report.diagnosis, report.comparison,
                             all_layers=all_layers))
    return buffer.getvalue()
