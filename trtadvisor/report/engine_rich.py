"""Rich rendering of an engine: layers, time bars, comparison, bottlenecks and diagnosis. Pure rendering."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.table import Table
from rich.text import Text

from trtadvisor.confirm.compare import Comparison
from trtadvisor.confirm.diagnose import Bottleneck, Diagnosis
from trtadvisor.confirm.model import Engine

BAR_WIDTH = 30


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def _nodes(nodes: Sequence[str], limit: int = 4) -> str:
    shown = ", ".join(nodes[:limit])
    return shown + (f" (+{len(nodes) - limit})" if len(nodes) > limit else "")


@dataclass(frozen=True)
class EngineView:
    """An engine and what was found about it, as one rich renderable."""

    engine: Engine
    bottlenecks: Sequence[Bottleneck] = ()
    diagnosis: Sequence[Diagnosis] = ()
    comparison: Comparison | None = None
    top: int = 10
    max_layers: int | None = 60

    def _header(self) -> Text:
        engine = self.engine
        parts = [
            f"TensorRT {engine.trt_version or '?'}",
            f"GPU {engine.gpu or '?'}" + (f" (SM {engine.sm})" if engine.sm else ""),
            f"{len(engine.layers)} layers",
        ]
        if engine.total_ms is not None:
            parts.append(f"{engine.total_ms:.4f} ms per inference (sum of layers)")
        return Text(" | ".join(parts), style="bold")

    def _layer_table(self) -> Table:
        table = Table(title="Engine layers", expand=False)
        for column in ("#", "layer", "type", "prec", "median ms", "share", "ONNX nodes"):
            table.add_column(column, overflow="fold")
        layers = self.engine.layers if self.max_layers is None else self.engine.layers[: self.max_layers]
        for index, layer in enumerate(layers):
            table.add_row(
                str(index),
                layer.name,
                layer.type or "",
                layer.precision or "",
                _ms(layer.time_ms),
                _pct(layer.percent),
                _nodes(layer.onnx_nodes),
            )
        if self.max_layers is not None and len(self.engine.layers) > self.max_layers:
            table.caption = f"{len(self.engine.layers) - self.max_layers} more layers not shown"
        return table

    def _bars(self) -> Table | None:
        timed = sorted(
            (layer for layer in self.engine.layers if layer.percent is not None),
            key=lambda layer: -(layer.percent or 0),
        )
        if not timed:
            return None
        table = Table(title=f"Top {min(self.top, len(timed))} layers by time", show_header=False, box=None)
        table.add_column("layer", overflow="fold", max_width=50)
        table.add_column("bar")
        table.add_column("share", justify="right")
        for layer in timed[: self.top]:
            filled = round(BAR_WIDTH * (layer.percent or 0.0) / 100.0)
            table.add_row(
                layer.name, Text("█" * filled + "·" * (BAR_WIDTH - filled), style="cyan"), _pct(layer.percent)
            )
        return table

    def _comparison(self) -> Table | None:
        if self.comparison is None:
            return None
        c = self.comparison
        table = Table(title=f"Prediction vs engine: agreement {100 * c.agreement:.0f}%")
        table.add_column("result")
        table.add_column("predicted / engine layer", overflow="fold")
        table.add_column("detail", overflow="fold")
        for item in c.confirmed:
            table.add_row(Text("confirmed", style="green"), str(item["predicted"]), str(item["engine_layer"]))
        for item in c.missed:
            table.add_row(
                Text("missed", style="red"),
                str(item["predicted"]),
                f"split into {', '.join(item['engine_layers'])}: {item['reason']}",
            )
        for item in c.unpredicted:
            table.add_row(
                Text("unpredicted", style="yellow"),
                str(item["engine_layer"]),
                f"joins {', '.join(item['predicted_layers'])}",
            )
        return table

    def _bottlenecks(self) -> Table | None:
        if not self.bottlenecks:
            return None
        table = Table(title="Bottlenecks")
        for column in ("layer", "median ms", "share", "why", "advice"):
            table.add_column(column, overflow="fold")
        for b in self.bottlenecks:
            table.add_row(b.layer, _ms(b.median_ms), _pct(b.percent), b.why, b.advice)
        return table

    def _diagnosis(self) -> Table | None:
        if not self.diagnosis:
            return None
        table = Table(title="Diagnosis")
        for column in ("rule", "message", "evidence", "advice"):
            table.add_column(column, overflow="fold")
        for d in self.diagnosis:
            table.add_row(d.rule, d.message, d.evidence, d.advice)
        return table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        parts = [
            self._header(),
            self._layer_table(),
            self._bars(),
            self._comparison(),
            self._bottlenecks(),
            self._diagnosis(),
        ]
        yield Group(*(part for part in parts if part is not None))
