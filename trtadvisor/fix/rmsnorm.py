"""Decomposed RMSNorm -> RMSNormalization (TRT306's RMSNorm sibling; the op exists from opset 23).

TensorRT's ONNX parser imports RMSNormalization from 10.15 as one normalization layer; decomposed,
the mean of squares runs as separate layers in the model's precision. Below opset 23 the op does
not exist, and raising a model to 23 changes many ops (Reshape, Cast, ...), so such a model is
skipped with the reason unless none of its ops changes version.
"""

from __future__ import annotations

from trtadvisor.fix.base import Outcome, Work
from trtadvisor.fix.native_norm import rewrite_norms


class RMSNormRewrite:
    name = "rmsnorm"
    codes = ("TRT306",)
    needs_values = False

    def apply(self, work: Work) -> Outcome:
        return rewrite_norms(work, self.name, self.codes[0], kind="rmsnorm", op="RMSNormalization", since=23)
