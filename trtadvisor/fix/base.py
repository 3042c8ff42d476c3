"""What every rewrite shares: the model under rewrite, and what a rewrite reports back."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

from trtadvisor.ir.graph import Graph

if TYPE_CHECKING:
    import onnx_graphsurgeon as gs


@dataclass(frozen=True)
class Change:
    """One site rewritten."""

    rewrite: str
    code: str
    nodes: tuple[str, ...]
    detail: str

    def to_json(self) -> dict[str, object]:
        return {"rewrite": self.rewrite, "rule": self.code, "nodes": list(self.nodes), "detail": self.detail}


@dataclass(frozen=True)
class Skip:
    """One site (or a whole rewrite) left alone, and why it could not be proven safe."""

    rewrite: str
    code: str
    nodes: tuple[str, ...]
    reason: str

    def to_json(self) -> dict[str, object]:
        return {"rewrite": self.rewrite, "rule": self.code, "nodes": list(self.nodes), "reason": self.reason}


@dataclass
class Outcome:
    changes: list[Change] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)


class Rewrite(Protocol):
    """A rewrite: its name, the finding codes it resolves, whether it reads weight values."""

    name: str
    codes: tuple[str, ...]
    needs_values: bool

    def apply(self, work: Work) -> Outcome: ...


class Work:
    """The model being rewritten: an in-memory copy whose external weights stay on disk.

    ``ir()`` is the audit's lean graph of the current state (shapes inferred), so rewrites find their
    sites with the same matchers the audit uses; ``surgeon()`` / ``commit()`` edit it through
    onnx-graphsurgeon. Weight values are read from disk only when a rewrite asks for one.
    """

    def __init__(self, proto: onnx.ModelProto, base_dir: Path, weights_present: bool) -> None:
        self.proto = proto
        self.base_dir = base_dir
        self.weights_present = weights_present
        self.notes: list[str] = []
        self._ir: Graph | None = None
        from onnx.external_data_helper import _get_all_tensors

        # Tensors the input holds inline: written back inline (only new or changed ones go to OUT.data).
        self.original_inline = {t.name for t in _get_all_tensors(proto) if t.data_location != TensorProto.EXTERNAL}

    @property
    def opset(self) -> int:
        for entry in self.proto.opset_import:
            if entry.domain in ("", "ai.onnx"):
                return int(entry.version)
        return 0

    def set_opset(self, version: int) -> None:
        for entry in self.proto.opset_import:
            if entry.domain in ("", "ai.onnx"):
                entry.version = version
        # An opset needs a minimum IR version (opset 17: IR 8); later IR versions only add features.
        needed = onnx.helper.find_min_ir_version_for(list(self.proto.opset_import), ignore_unknown=True)
        if self.proto.ir_version < needed:
            self.notes.append(f"IR version raised {self.proto.ir_version} -> {needed} for opset {version}")
            self.proto.ir_version = needed
        self._ir = None

    def ir(self) -> Graph:
        if self._ir is None:
            try:
                inferred = onnx.shape_inference.infer_shapes(self.proto, data_prop=True)
            except Exception:  # a model shape inference rejects still has the shapes it declares
                inferred = self.proto
            self._ir = Graph(inferred.graph)
        return self._ir

    def surgeon(self) -> gs.Graph:
        import onnx_graphsurgeon as gs

        return gs.import_onnx(self.proto)

    def commit(self, graph: gs.Graph) -> None:
        """The edited graph becomes the model; the model's own fields (IR version, opsets, metadata) stay."""
        import onnx_graphsurgeon as gs

        graph.cleanup(remove_unused_graph_inputs=False).toposort()
        exported = gs.export_onnx(graph, do_type_check=False)
        model = onnx.ModelProto()
        model.CopyFrom(self.proto)
        model.graph.CopyFrom(exported.graph)
        if model.ir_version < 4:  # IR 3 lists every initializer among the graph inputs
            listed = {i.name for i in model.graph.input}
            for init in model.graph.initializer:
                if init.name not in listed:
                    model.graph.input.append(onnx.helper.make_tensor_value_info(init.name, init.data_type,
                                                                                list(init.dims)))
        self.proto = model
        self._ir = None

    def initializer(self, name: str) -> TensorProto | None:
        for init in self.proto.graph.initializer:
            if init.name == name:
                return init
        return None

    def value(self, name: str) -> np.ndarray | None:
        """An initializer's value, read from the external file if it lives there; None if unreadable."""
        init = self.initializer(name)
        if init is None:
            return None
        external = init.data_location == TensorProto.EXTERNAL
        if external and not self.weights_present:
            return None
        try:
            return numpy_helper.to_array(init, base_dir=str(self.base_dir)) if external else numpy_helper.to_array(init)
        except Exception:
            return None


def unique_name(name: str, taken: set[str]) -> str:
    """``name``, or ``name_2``, ``name_3``, ... when taken; the result is taken from now on."""
    candidate, i = name, 1
    while candidate in taken:
        i += 1
        candidate = f"{name}_{i}"
    taken.add(candidate)
    return candidate


def tensor_of(graph: gs.Graph, name: str) -> gs.Tensor | None:
    return graph.tensors().get(name)
