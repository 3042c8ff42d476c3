"""Decomposed LayerNorm -> LayerNormalization (TRT306).

TensorRT runs LayerNormalization as one normalization layer that keeps its statistics in FP32;
written out as ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div, the variance can overflow in FP16. The
sites are the audit's own (analysis/normalization.py: every exporter variant it recognises). The op
exists from opset 17: an older model is raised to 17 only when no op it uses changes version.
"""

from __future__ import annotations

from trtadvisor.fix.base import Outcome, Work
from trtadvisor.fix.native_norm import rewrite_norms


class LayerNormRewrite:
    name = "layernorm"
    codes = ("TRT306",)
    needs_values = False

    def apply(self, work: Work) -> Outcome:
        return rewrite_norms(work, self.name, self.codes[0], kind="layernorm", op="LayerNormalization", since=17)
