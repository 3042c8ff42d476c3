"""What the advisors find besides findings: data the report shows (the JSON contract v1 fields they fill)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trtadvisor.analysis.attention_sites import AttentionSite
from trtadvisor.analysis.mha_rules import Verdict


@dataclass(frozen=True)
class JudgedSite:
    site: AttentionSite
    verdict: Verdict

    def to_json(self) -> dict[str, object]:
        s, v = self.site, self.verdict
        return {"nodes": list(s.nodes), "kind": s.kind, "num_heads": s.num_heads, "num_kv_heads": s.num_kv_heads,
                "head_size": s.head_size, "seq_q": s.seq_q, "seq_kv": s.seq_kv, "causal": s.causal,
                "mask": s.mask, "fused": v.fused, "reasons": [] if v.fused else list(v.reasons),
                "conditions": [] if v.fused else list(v.conditions),
                "windows": s.num_windows, "window": list(s.window) if s.window else None}


@dataclass
class AdviceNotes:
    attention: tuple[JudgedSite, ...] | None = None  # every attention site and its verdict
    quantization: dict[str, Any] | None = None        # Q/DQ coverage (advice/qdq.quantization_coverage)
    reformats: list[dict[str, Any]] | None = None     # the boundary reformats the target will have (and their cost)
    patterns: list[dict[str, object]] | None = None   # every recognised pattern instance (advice/patterns)
