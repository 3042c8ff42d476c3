"""What the confirm stage found in a built engine's artifacts: the typed part of an audit result."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from trtadvisor.confirm.compare import Comparison, comparison_to_json
from trtadvisor.confirm.diagnose import Bottleneck, Diagnosis, bottlenecks_to_json, diagnosis_to_json
from trtadvisor.confirm.model import Engine, engine_to_json


@dataclass(frozen=True)
class EngineEvidence:
    engine: Engine
    bottlenecks: list[Bottleneck]
    diagnosis: list[Diagnosis]
    comparison: Comparison

    def selected(self, enabled: Callable[[str], bool]) -> EngineEvidence:
        """Only the diagnoses whose code is enabled (select/ignore); a hot layer whose cause is not enabled
        stays ranked, without the cause."""
        diagnosis = [d for d in self.diagnosis if enabled(d.code)]
        bottlenecks = [b if b.code is None or enabled(b.code) else
                       replace(b, why="", advice="", rule=None, code=None) for b in self.bottlenecks]
        return replace(self, diagnosis=diagnosis, bottlenecks=bottlenecks)

    def to_json(self) -> dict[str, Any]:
        """The JSON contract fields ``engine``, ``bottlenecks``, ``diagnosis`` and ``comparison``."""
        return {"engine": engine_to_json(self.engine), "bottlenecks": bottlenecks_to_json(self.bottlenecks),
                "diagnosis": diagnosis_to_json(self.diagnosis), "comparison": comparison_to_json(self.comparison)}
