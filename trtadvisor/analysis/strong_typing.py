"""Typing mode and effective precision of a target once the model is known.

Strongly typed targets (TensorRT >= 11.0, or --strongly-typed on 9.0-10.x) build what the model's
tensor types say, whatever --precision asked for; a Q/DQ model on 9.0+ is strongly typed too, since
the command the audit prints carries --stronglyTyped for it (tensorrt-best-practices.txt line 72).
The requested precision stays on the target as the intent that findings compare against.
"""

from __future__ import annotations

from dataclasses import replace

from trtadvisor.analysis.dtypes import BFLOAT16, FLOAT16, model_float_type, model_quantized_type, tensor_dtypes
from trtadvisor.ir.graph import Graph
from trtadvisor.knowledge.rulebook import RuleBook
from trtadvisor.knowledge.target import Target


def settle_typing(target: Target, graph: Graph, book: RuleBook,
                  types: dict[str, int] | None = None) -> tuple[Target, dict[str, int]]:
    """The target with its typing mode and predicted precision fixed for this model, and the tensor types."""
    types = tensor_dtypes(graph) if types is None else types
    intent = target.intent
    quantized = model_quantized_type(graph, types)
    typing = target.typing
    if typing == "weak" and quantized and target.trt_at_least(book.trt["typing"]["strongly_typed_flag_since"]):
        typing = "strong"
    if typing == "weak":
        return replace(target, requested_precision=intent), types
    return replace(target, typing="strong", precision=effective_precision(graph, types, intent, quantized),
                   requested_precision=intent), types


def effective_precision(graph: Graph, types: dict[str, int], intent: str, quantized: str | None) -> str:
    """What a strongly typed build of this model runs its heavy layers in."""
    if quantized:
        return quantized
    dtype = model_float_type(graph, types)
    if dtype == FLOAT16:
        return "fp16"
    if dtype == BFLOAT16:
        return "bf16"
    return "fp32" if intent == "fp32" else "tf32"  # TF32 math stays on by default; --noTF32 for fp32
