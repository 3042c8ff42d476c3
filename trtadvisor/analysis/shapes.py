"""Shape relations the fusion rules test: does one operand broadcast against another."""

from __future__ import annotations

from trtadvisor.ir.graph import Shape


def broadcast_blocker(a: Shape | None, b: Shape | None) -> str | None:
    """Why a residual of shape ``b`` cannot join a convolution of output shape ``a``; None when it can."""
    if a is None or b is None:
        return None  # unknown shapes: TensorRT decides at build time; do not claim a miss
    if len(a) != len(b):
        return f"the other operand {list(b)} broadcasts against {list(a)}"
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        if x == y or i == 0:
            continue
        if 1 not in (x, y) and not (isinstance(x, int) and isinstance(y, int)):
            # Two different symbols ('H' and the 'unk__3' inference names a padded Conv's output), or a
            # symbol and a number other than 1: equal or not is decided at build time, not a broadcast.
            continue
        return f"the other operand {list(b)} broadcasts against {list(a)} (only the batch dimension may)"
    return None
