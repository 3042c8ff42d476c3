"""Q/DQ fusions of explicitly quantized (INT8/FP8) models. Stub."""

from __future__ import annotations

from trtadvisor.plan import PlanContext


def fuse_qdq(ctx: PlanContext) -> None:
    """Fold weight Q/DQ into Conv/Gemm/MatMul, activation DQ into consumers, Q into producers."""
