"""What the confirm stage found in a built engine's artifacts: the typed part of an audit result."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from trtadvisor.confirm.compare import Comparison, comparison_to_json
from trtadvisor.confirm.cost_check import CostCheck
from trtadvisor.confirm.diagnose import Bottleneck, Diagnosis, bottlenecks_to_json, diagnosis_to_json
from trtadvisor.confirm.model import Engine, engine_to_json


@dataclass(frozen=True)
class EngineEvidence:
    engine: Engine
    bottlenecks: list[Bottleneck]
    diagnosis: list[Diagnosis]
    comparison: Comparison
    cost_check: CostCheck | None = None  # the predicted layer times held against the profile's
    cost_basis: dict[str, Any] | None = None  # what the prediction assumed: GPU and precision

    def selected(self, enabled: Callable[[str], bool]) -> EngineEvidence:
        """Only the diagnoses whose code is enabled (select/ignore); a hot layer whose cause is not enabled
        stays ranked, without the cause."""
        diagnosis = [d for d in self.diagnosis if enabled(d.code)]
        bottlenecks = [b if b.code is None or enabled(b.code) else
                       replace(b, why="", advice="", rule=None, code=None) for b in self.bottlenecks]
        return replace(self, diagnosis=diagnosis, bottlenecks=bottlenecks)

    def to_json(self) -> dict[str, Any]:
        """The JSON contract fields ``engine``, ``bottlenecks``, ``diagnosis`` and ``comparison``."""
        fields = {"engine": engine_to_json(self.engine), "bottlenecks": bottlenecks_to_json(self.bottlenecks),
                  "diagnosis": diagnosis_to_json(self.diagnosis), "comparison": comparison_to_json(self.comparison)}
        if self.cost_check is not None:
            fields["cost_check"] = cost_check_to_json(self.cost_check, self.cost_basis or {}, self.engine.gpu)
        return fields


def cost_check_to_json(check: CostCheck, basis: dict[str, Any], engine_gpu: str | None) -> dict[str, Any]:
    """The ``cost_check`` contract field: the figures, what the prediction assumed, and every paired layer,
    the slowest measured first."""
    pairs = sorted(check.pairs, key=lambda p: (-p.measured_ms, p.engine_layer))
    return {**check.to_json(), "gpu": basis.get("gpu"), "precision": basis.get("precision"),
            "engine_gpu": engine_gpu,
            "pairs": [{"engine_layer": p.engine_layer, "measured_ms": round(p.measured_ms, 6),
                       "predicted_ms": round(p.predicted_ms, 6), "predicted_layers": list(p.predicted_layers)}
                      for p in pairs]}
