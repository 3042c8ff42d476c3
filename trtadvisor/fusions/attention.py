"""Attention sites and normalization/activation patterns as exporters write them. Stub."""

from __future__ import annotations

from trtadvisor.plan import PlanContext


def tag_attention(ctx: PlanContext) -> None:
    """Find attention sites and tag the layers that hold them with 'mha' where the target fuses them."""


def fuse_normalizations(ctx: PlanContext) -> None:
    """LayerNormalization / RMSNorm, native and decomposed: one layer tagged 'layernorm' or 'rmsnorm'."""
