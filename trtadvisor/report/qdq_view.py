"""The rich report's quantization panel, built from the audit's Q/DQ coverage (AuditResult.quantization)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class QdqView:
    """The rich report's quantization panel: coverage per weighted op and the standalone Q/DQ layers."""

    coverage: dict[str, Any] = field(default_factory=dict)

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from rich.table import Table

        table = Table(title="Quantization (Q/DQ)", show_lines=False)
        for column in ("op", "total", "quantized", "Q/DQ fused"):
            table.add_column(column, justify="right" if column != "op" else "left")
        for op, stats in self.coverage.get("weighted", {}).items():
            if stats["total"]:
                table.add_row(op, str(stats["total"]), str(stats["quantized"]), str(stats["fused"]))
        yield table
        yield (f"standalone Q layers: {self.coverage.get('standalone_q_layers', 0)}, standalone DQ layers: "
               f"{self.coverage.get('standalone_dq_layers', 0)}, layers with quantized I/O: "
               f"{self.coverage.get('quantized_layers', 0)}")
