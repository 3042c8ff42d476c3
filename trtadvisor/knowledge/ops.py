"""How TensorRT's ONNX parser turns each ONNX op into a layer class: read from ``rules/ops.toml``.

The classes follow TensorRT's own layer types (IConvolutionLayer, IActivationLayer, IElementWiseLayer, ...),
since the fusion lists of the reference text are written in those terms. ``activations`` is the one set
of activation ops every rule uses (the ops of ``[class.activation]``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class OpFacts:
    layer_class: dict[str, str]           # ONNX op -> TensorRT layer class
    kind_of_class: dict[str, str]         # layer class -> report kind (JSON contract v1)
    pointwise_classes: frozenset[str]     # classes TensorRT's pointwise fusion takes
    activations: frozenset[str]           # ops TensorRT runs as activations
    shape_inputs: dict[str, tuple[int, ...]]  # op -> input positions that carry shapes or axes

    @classmethod
    def from_table(cls, table: dict[str, Any]) -> OpFacts:
        classes = table["class"]
        return cls(
            layer_class={op: name for name, c in classes.items() for op in c["ops"]},
            kind_of_class={name: c["kind"] for name, c in classes.items()},
            pointwise_classes=frozenset(name for name, c in classes.items() if c["pointwise"]),
            activations=frozenset(classes["activation"]["ops"]),
            shape_inputs={op: tuple(positions) for op, positions in table["shape_inputs"]["inputs"].items()},
        )

    def class_of(self, op: str) -> str:
        return self.layer_class.get(op, "other")

    def kind_of(self, op: str) -> str:
        return self.kind_of_class.get(self.class_of(op), "other")

    def is_pointwise(self, op: str) -> bool:
        return self.class_of(op) in self.pointwise_classes

    @property
    def pointwise_ops(self) -> frozenset[str]:
        return frozenset(op for op, c in self.layer_class.items() if c in self.pointwise_classes)
