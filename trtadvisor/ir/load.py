"""Load an ONNX file into the lean IR without ever reading external weight data.

Only shapes matter for a prediction, so a model whose ``.data`` file is absent (a checkout without
LFS, say) audits fully, and a model over 2 GB loads as fast as its structure. The input file is
opened read-only and never written.
"""

from __future__ import annotations

import contextlib
import heapq
import marshal
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import NamedTuple

import onnx
import onnx.inliner
import onnx.shape_inference
from google.protobuf.message import DecodeError

from trtadvisor.errors import ModelLoadError, shown
from trtadvisor.ir import contrib_shapes, inferred_types, shape_child
from trtadvisor.ir.graph import (
    ExternalData,
    Graph,
    SentAfterTypes,
    Shape,
    TensorType,
    tensor_types_of,
)
from trtadvisor.ir.nesting import body_depth
from trtadvisor.safe_io import MODEL_MAX_BYTES, is_regular, read_regular

# Graph levels (main graph = 1) that protobuf's recursion limit lets through: upb stops at 100 nested
# messages and every body level is three (GraphProto -> NodeProto -> AttributeProto); measured 32.
_PARSABLE_LEVELS = 32
_REEXPORT_HINT = "re-export the model, or check it with `python -c \"import onnx; onnx.checker.check_model('MODEL')\"`"


@dataclass(frozen=True)
class LoadedModel:
    """The parsed model, its IR and what loading learned about it."""

    path: str
    proto: onnx.ModelProto
    graph: Graph
    opset: int
    producer: str
    external_data_files: tuple[str, ...] = ()
    missing_external_data: tuple[str, ...] = ()
    shape_overrides: dict[str, Shape] = field(default_factory=dict)
    # What the loader put right so the model could be read as TensorRT's parser reads it (nodes
    # sorted, duplicate initializers): one sentence each, reported as an info finding.
    repairs: tuple[str, ...] = ()
    # external-data locations that leave the model's folder (absolute, "..", odd bytes): never looked up
    outside_external_data: tuple[str, ...] = ()

    @property
    def node_count(self) -> int:
        return sum(len(g.nodes) for g in self.graph.walk())


def parse_shape_overrides(text: str | None) -> dict[str, Shape]:
    """Parse ``name:1x3x224x224,other:1x128`` (trtexec's ``--shapes`` syntax)."""
    if not text:
        return {}
    shapes: dict[str, Shape] = {}
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, dims = item.rpartition(":")
        if not sep or not name or not dims:
            raise ModelLoadError(f"cannot read shape '{item}'",
                                 "write --shapes as name:1x3x224x224,other:1x128")
        try:
            shapes[name.strip("'\"")] = tuple(int(d) for d in dims.split("x"))
        except ValueError:
            raise ModelLoadError(f"shape '{item}' has a dimension that is not a whole number",
                                 "write --shapes as name:1x3x224x224 with integer dimensions") from None
    return shapes


def load_model(path: str | os.PathLike[str], shapes: dict[str, Shape] | None = None, *,
               wait_for_shapes: bool = True) -> LoadedModel:
    """Read ``path`` into a :class:`LoadedModel`; every failure is a :class:`ModelLoadError`.

    With ``wait_for_shapes=False`` a large model's shapes may still be under inference when this
    returns: the first shape query waits for them (and raises the ModelLoadError of an
    inconsistent model then), so the caller's work until that query overlaps the inference.
    """
    file = Path(path)
    overrides = dict(shapes or {})
    # A large model's shapes are inferred in a forked child while this process parses the model and
    # builds the graph; the child starts before the parse, so it does not carry the parsed copy. The
    # command line may have started it even earlier, before its own imports.
    started = shape_child.take(file)
    child = None
    if started is not None:
        data, child, asked = started
        if asked != overrides:  # other input shapes: that inference answers another question
            child.cancel()
            child = None
    else:
        # Only a regular file, bounded: a FIFO would block, /dev/zero would never end.
        data = read_regular(file, what="an .onnx file", hint="pass the path of an .onnx file",
                            limit=MODEL_MAX_BYTES, error=ModelLoadError)
    early = None
    if child is not None or len(data) >= shape_child.PARALLEL_MIN_BYTES:
        # With --shapes the child rewrites the inputs in its own copy: forked now, before the parse,
        # it neither carries the parsed model nor starts late.
        early = _start_shape_inference(file, data, parallel=True, child=child, overrides=overrides)
    try:
        proto = _parse(file, data)
        _check_structure(file, proto)
        graph = None
        repairs: list[str] = []
        unsorted = False
        if not proto.functions:
            # --shapes rewrites the inputs (and drops the export's intermediate shapes) in this copy;
            # the rewritten model is then inferred like any other, in a child for a large one.
            _apply_shape_overrides(file, proto, overrides)
            graph = _build_graph(file, proto)
            unsorted = bool(graph.reads_before_producer())
            if graph.has_bodies() or unsorted:
                graph = None  # If/Loop/Scan bodies take their shapes from the inferred model: below
            elif early is None:  # a small model: inferred right here, from this copy (--shapes applied)
                early = _start_shape_inference(file, proto.SerializeToString() if overrides else data, parallel=False)
        if graph is None:
            # TensorRT's parser expands local functions; so do we, so patterns inside them are seen.
            # Bodies of If/Loop get their shapes from the inferred model itself: infer, then build.
            rewritten = bool(proto.functions or overrides or unsorted)
            if proto.functions:
                proto = _inline_functions(file, proto)
            if unsorted or ((proto.functions or overrides) and _needs_sort(proto.graph)):
                # ONNX Runtime runs such a graph and TensorRT's parser sorts the nodes before it
                # imports them; shape inference and every pass here want graph order: sort a copy.
                moved = _sort_nodes(proto.graph)
                repairs.append(f"the nodes are not in topological order ({moved} node(s) read a tensor "
                               "written by a later node); the audit read them sorted, as TensorRT's parser does")
                rewritten = True
            _apply_shape_overrides(file, proto, overrides)
            if rewritten:
                data = proto.SerializeToString()
            inferred = _infer_model(file, data)
            proto = inferred.model
            graph = _build_graph(file, proto)
            graph.adopt_types(inferred.types)  # decoded already: not indexed and decoded again
        else:
            del data
            pending, early = early, None
            pending.take_weight_dims = graph.initializers.offer_dims
            graph.adopt_types_later(pending, pending.cancel, pending.ready)
            if wait_for_shapes:
                graph.settle_types()  # waits (for the weights' dims too), and raises for an inconsistent model
    finally:
        if early is not None:
            early.cancel()
    _check_single_writers(file, graph)
    _check_dangling_inputs(file, graph)
    twice = graph.duplicate_initializers()
    if twice:
        names = ", ".join(f"'{shown(n, 80)}'" for n in twice[:3]) + (" ..." if len(twice) > 3 else "")
        repairs.append(f"{len(twice)} initializer name(s) are listed more than once ({names}); the audit, like "
                       "ONNX Runtime, used the last copy")
    externals = _external_files(graph)
    outside = tuple(f for f in externals if not _inside_folder(f))
    # Only locations inside the model's folder are looked up: whether a file elsewhere exists on
    # this machine is not the model's business (a model in a pull request must not probe a CI runner).
    missing = tuple(f for f in externals if f not in outside and not _exists(file.parent / f))
    present = frozenset(f for f in externals if f not in outside
                        and is_regular(file.parent / f))  # a FIFO or device is never read
    if present:
        reader = ExternalData(file.parent, present)
        for g in graph.walk():
            g.external_data = reader
    return LoadedModel(
        path=str(file),
        proto=proto,
        graph=graph,
        opset=_default_opset(proto),
        producer=f"{proto.producer_name} {proto.producer_version}".strip(),
        external_data_files=externals,
        missing_external_data=missing,
        shape_overrides=overrides,
        repairs=tuple(repairs),
        outside_external_data=outside,
    )


def _build_graph(file: Path, proto: onnx.ModelProto) -> Graph:
    """The IR of ``proto``; what the build finds wrong (a name that is not UTF-8) names the file."""
    try:
        return Graph(proto.graph)
    except ModelLoadError as exc:
        raise ModelLoadError(f"{shown(file)}: {exc.message}", exc.hint) from None


# Local functions are expanded before the analysis; a function calling others several times can
# multiply the graph (f1 calls f0 twice, f2 calls f1 twice, ...): its expanded size is bounded first.
_MAX_INLINED_NODES = 2_000_000


def _inline_functions(file: Path, proto: onnx.ModelProto) -> onnx.ModelProto:
    """``proto`` with its model-local functions expanded; a recursive or explosive set is a ModelLoadError."""
    functions = {(f.domain, f.name): f for f in proto.functions}
    sizes: dict[tuple[str, str], int] = {}

    def size(key: tuple[str, str], trail: tuple[tuple[str, str], ...]) -> int:
        if key in trail:
            cycle = " -> ".join(f"{d}::{n}" for d, n in (*trail[trail.index(key):], key))
            raise ModelLoadError(f"{shown(file)}: model-local functions call themselves ({shown(cycle)})",
                                 "ONNX functions must not be recursive; re-export the model")
        if key not in sizes:
            total = 0
            for node in functions[key].node:
                callee = (node.domain, node.op_type)
                total += size(callee, (*trail, key)) if callee in functions else 1
                if total > _MAX_INLINED_NODES:
                    break
            sizes[key] = total
        return sizes[key]

    expanded = sum(size((n.domain, n.op_type), ()) if (n.domain, n.op_type) in functions else 1
                   for n in proto.graph.node)
    if expanded > _MAX_INLINED_NODES:
        raise ModelLoadError(f"{shown(file)}: its local functions expand to more than {_MAX_INLINED_NODES:,} nodes",
                             "export without nested function calls, or inline the functions first")
    try:
        return onnx.inliner.inline_local_functions(proto)
    except Exception as exc:  # onnx's own validation of the functions
        raise ModelLoadError(f"{shown(file)}: its local functions cannot be expanded ({shown(exc, 200)})",
                             _REEXPORT_HINT) from None


def _inside_folder(location: str) -> bool:
    """Whether an external-data location names a file under the model's folder, decided from the text
    alone (ONNX's rule: relative, no "..", no drive): nothing is looked up."""
    if not location or "\x00" in location or len(location) > 1024 or location != location.strip():
        return False
    if location.startswith(("/", "\\")) or (len(location) > 1 and location[1] == ":"):
        return False
    parts = location.replace("\\", "/").split("/")
    return ".." not in parts and all(len(part.encode("utf-8", "surrogateescape")) <= 255 for part in parts)


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def _parse(file: Path, data: bytes) -> onnx.ModelProto:
    if not data:
        raise ModelLoadError(f"{shown(file)}: the file is empty", "export the model again; the file holds no bytes")
    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(data)
    except DecodeError as exc:
        depth = body_depth(data)
        if depth > _PARSABLE_LEVELS or any(w in str(exc).lower() for w in ("depth", "recursion")):
            raise ModelLoadError(
                f"{shown(file)}: If/Loop/Scan bodies nested {depth - 1} deep, past what protobuf parses "
                f"(about {_PARSABLE_LEVELS - 1} levels)",
                "flatten the nested control flow before export (fold constant conditions, unroll or merge the "
                "inner loops); no ONNX tool can read this model") from None
        raise ModelLoadError(f"{shown(file)}: not an ONNX model, or the file is truncated",
                             "check that the download or export finished; an ONNX file is a protobuf "
                             "ModelProto") from None
    except Exception as exc:  # protobuf raises a few other types on odd input
        raise ModelLoadError(f"{shown(file)}: not an ONNX model ({type(exc).__name__})",
                             "pass an .onnx file written by an ONNX exporter") from None
    return proto


def _check_structure(file: Path, proto: onnx.ModelProto) -> None:
    if proto.ir_version <= 0 or not proto.opset_import:
        raise ModelLoadError(f"{shown(file)}: not an ONNX model (no IR version or opset)",
                             "pass an .onnx file written by an ONNX exporter")
    if not proto.graph.node:
        raise ModelLoadError(f"{shown(file)}: the model's graph has no nodes", _REEXPORT_HINT)


def _default_opset(proto: onnx.ModelProto) -> int:
    for op in proto.opset_import:
        if op.domain in ("", "ai.onnx"):
            return int(op.version)
    return 0


def _apply_shape_overrides(file: Path, proto: onnx.ModelProto, overrides: dict[str, Shape]) -> None:
    by_name = {vi.name: vi for vi in proto.graph.input}
    for name, dims in overrides.items():
        vi = by_name.get(name)
        if vi is None:
            known = ", ".join(sorted(by_name)) or "none"
            raise ModelLoadError(f"--shapes names input '{name}', which the model does not have",
                                 f"the model's inputs are: {known}")
        shape = vi.type.tensor_type.shape
        if len(shape.dim) and len(shape.dim) != len(dims):
            raise ModelLoadError(f"--shapes gives input '{name}' rank {len(dims)}, the model says {len(shape.dim)}",
                                 f"give {len(shape.dim)} dimensions for '{name}'")
        del shape.dim[:]
        for d in dims:
            shape.dim.add().dim_value = int(d)
    # Inferred intermediate shapes from the export would contradict the new input shapes.
    if overrides:
        del proto.graph.value_info[:]


def _complete_contrib_types(model: onnx.ModelProto) -> None:
    """Types of ONNX Runtime contrib ops' outputs and what ONNX left untyped downstream of them: only for a
    model that imports that domain, so other models pay nothing."""
    if contrib_shapes.uses_contrib_ops(model):
        contrib_shapes.complete_types(model)


def _decode_types(payload: memoryview) -> dict[str, TensorType] | None:
    """The parent's side of the types :func:`trtadvisor.ir.inferred_types.encode` sends; None when the
    answer is not what was sent."""
    answer = marshal.loads(payload)
    return answer if isinstance(answer, dict) else None


def _decode_dims(child: shape_child.ChildInference) -> SentAfterTypes | None:
    """What the child sends after the types (see inferred_types.encode), once it has closed the pipe: the
    weights' dims (the distinct dims and each weight's position among them) and the nodes' facts; None when
    they did not come whole (the initializer index checks the dims, the graph the nodes' facts)."""
    payload = child.rest()
    with contextlib.suppress(EOFError, ValueError, TypeError):
        sent = marshal.loads(payload) if payload else None
        if isinstance(sent, tuple) and len(sent) == 3 and isinstance(sent[0], list) and isinstance(sent[1], list):
            return sent
    return None


def inferred_types_payload(file: Path, data: bytes, overrides: dict[str, Shape] | None = None) -> Iterator[bytes]:
    """What the shape-inference child computes and sends (see trtadvisor.ir.shape_child): the types of the
    model in ``data``, with the input shapes ``overrides`` gives (--shapes) where it gives any, then the
    weights' dims and the nodes' facts."""
    return inferred_types.child_answer(_with_overrides(file, data, overrides), partial(read_inferred_in_full, file))


def read_inferred_in_full(file: Path, inferred: bytes) -> tuple[onnx.ModelProto, dict[str, TensorType]]:
    """The shape-inference child's read of an inferred model whose contrib ops' types must be completed (see
    trtadvisor.ir.inferred_types.child_answer): parsed in full."""
    model = _parse(file, inferred)
    _complete_contrib_types(model)
    return model, tensor_types_of(model.graph)


def _with_overrides(file: Path, data: bytes, overrides: dict[str, Shape] | None) -> bytes:
    """The model's bytes with its inputs' shapes rewritten as ``overrides`` says (the bytes as given without)."""
    if not overrides:
        return data
    proto = _parse(file, data)
    _apply_shape_overrides(file, proto, overrides)
    return proto.SerializeToString()


class _Inferred(NamedTuple):
    model: onnx.ModelProto  # the inferred model, contrib ops' types completed
    types: dict[str, TensorType]  # its main graph's tensor types


def _inferred(file: Path, data: bytes) -> _Inferred:
    """Shape inference of the model in ``data``, parsed in full: the child's inference (with or without data
    propagation, see trtadvisor.ir.inferred_types.inferred_types), read with onnx's message classes."""
    return _Inferred(*inferred_types.inferred_types(data, partial(read_inferred_in_full, file)))


class _PendingTypes:
    """Shape inference under way: call it for the tensor types (waiting), ask whether they are
    ready (never waiting), or cancel it. ``take_weight_dims``, where set, is offered the initializers'
    dims when the child sends them after the types (see trtadvisor.ir.inferred_types.encode):
    a call that waits for them (None when they did not come) and one that gives them up."""

    def __init__(self, wait: Callable[[], _Answer],
                 cancel: Callable[[], None] = lambda: None,
                 ready: Callable[[], bool] = lambda: True) -> None:
        self._wait = wait
        self.cancel = cancel
        self.ready = ready
        self.take_weight_dims: Callable[[Callable[[], SentAfterTypes | None], Callable[[], None]], None] | None = None

    def __call__(self) -> dict[str, TensorType]:
        answer = self._wait()
        if isinstance(answer, tuple):  # the child's: the types, and the child still sending the weights' dims
            types, child = answer
            if self.take_weight_dims is not None:
                self.take_weight_dims(partial(_decode_dims, child), child.cancel)
            else:
                child.cancel()
            return types
        return answer


_Answer = dict[str, TensorType] | tuple[dict[str, TensorType], shape_child.ChildInference]


def _start_shape_inference(file: Path, data: bytes, parallel: bool,
                           child: shape_child.ChildInference | None = None,
                           overrides: dict[str, Shape] | None = None) -> _PendingTypes:
    """Shape inference of the model in ``data`` with ``overrides``' input shapes: in ``child`` when one was
    started early (for the same overrides), else in a child started now when ``parallel`` (and fork is
    available), else right here."""
    if child is None and parallel:
        child = shape_child.start(file, data, partial(inferred_types_payload, overrides=overrides))
    if child is None:
        result = _infer_model(file, _with_overrides(file, data, overrides)).types
        return _PendingTypes(lambda: result)

    def wait() -> _Answer:
        answer = child.result()
        if answer is not None:
            ok, payload = answer
            if not ok:
                kind, _, message = payload.decode("utf-8", "replace").partition("\x1f")
                raise _inference_error(file, kind, message)
            with contextlib.suppress(EOFError, ValueError, TypeError):
                decoded = _decode_types(memoryview(payload))
                if decoded is not None:
                    return decoded, child
            child.cancel()
        # The child died without an answer: infer here.
        return _infer_model(file, _with_overrides(file, data, overrides)).types

    return _PendingTypes(wait, child.cancel, child.ready)


def _inference_error(file: Path, kind: str, message: str) -> ModelLoadError:
    if kind == "InferenceError":
        first = message.strip().splitlines()[0] if message.strip() else "shape inference failed"
        return ModelLoadError(f"{shown(file)}: the model is inconsistent: {first[:300]}", _REEXPORT_HINT)
    return ModelLoadError(f"{shown(file)}: shape inference failed ({kind}: {message[:200]})", _REEXPORT_HINT)


def _infer_model(file: Path, data: bytes) -> _Inferred:
    try:
        return _inferred(file, data)
    except ModelLoadError:
        raise
    except Exception as exc:
        raise _inference_error(file, type(exc).__name__, str(exc)) from None


def _needs_sort(graph: onnx.GraphProto) -> bool:
    written: set[str] = set()
    produced = {o for n in graph.node for o in n.output if o}
    for node in graph.node:
        if any(i in produced and i not in written for i in node.input):
            return True
        written.update(node.output)
    return False


def _sort_nodes(graph: onnx.GraphProto) -> int:
    """Put ``graph``'s nodes in topological order (stable: ties keep file order); returns how many
    nodes read a tensor that a later node writes. A cycle keeps its nodes in file order at the end
    (shape inference then reports the model as inconsistent)."""
    nodes = list(graph.node)
    writer = {o: i for i, n in enumerate(nodes) for o in n.output if o}
    waiting = [0] * len(nodes)
    readers: dict[int, list[int]] = {}
    moved = 0
    for i, node in enumerate(nodes):
        deps = {writer[name] for name in node.input if name in writer and writer[name] != i}
        if any(d > i for d in deps):
            moved += 1
        waiting[i] = len(deps)
        for d in deps:
            readers.setdefault(d, []).append(i)
    ready = [i for i, w in enumerate(waiting) if w == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for r in readers.get(i, ()):
            waiting[r] -= 1
            if waiting[r] == 0:
                heapq.heappush(ready, r)
    placed = set(order)
    order += [i for i in range(len(nodes)) if i not in placed]
    copies = [nodes[i] for i in order]
    del graph.node[:]
    graph.node.extend(copies)
    return moved


def _check_single_writers(file: Path, graph: Graph) -> None:
    for g in graph.walk():
        if g.duplicate_outputs:
            name = g.duplicate_outputs[0]
            raise ModelLoadError(f"{shown(file)}: tensor '{name}' is written by more than one node "
                                 f"(the last is '{g.producers[name].name}')", _REEXPORT_HINT)


def _check_dangling_inputs(file: Path, graph: Graph) -> None:
    for name in graph.outer_scope_reads():
        reader = graph.readers[name][0]
        raise ModelLoadError(f"{shown(file)}: node '{reader.name}' reads tensor '{name}', which no node, "
                             "initializer or graph input provides", _REEXPORT_HINT)


def _external_files(graph: Graph) -> tuple[str, ...]:
    """The external-data files the main graph's initializers name (noted when the graph indexed them)."""
    return tuple(sorted(graph.initializers.external_files))
