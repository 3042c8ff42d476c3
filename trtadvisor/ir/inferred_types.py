"""What the shape-inference child computes (see trtadvisor.ir.shape_child): every tensor's type in the model
ONNX's C++ inference returns, read without the onnx Python package's message classes.

The inferred model is mostly nodes and weights the parent has parsed already; the child only wants the
value infos (name and type) and each weight's dims. Lean protobuf message classes declaring only those
fields parse the rest as unknown bytes (skipped, never turned into Python objects), and declare a value
info's type as plain bytes: the wire form of a submessage, which is also the key that tells distinct types
apart, so each distinct type is parsed and decoded once. On a 99k-node graph this reads the types in about
a third of the time onnx.ModelProto takes.
"""

from __future__ import annotations

import functools
import importlib.machinery
import importlib.util
import marshal
import math
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from types import ModuleType
from typing import Any

Dim = int | str | None
Shape = tuple[Dim, ...]
TensorType = tuple[int, Shape | None]  # (ONNX element type, shape)

# ONNX Runtime's contrib domain (trtadvisor.ir.contrib_shapes.CONTRIB_DOMAIN; a test keeps them equal): a
# model importing it has its contrib ops' types completed by the loader's full path.
CONTRIB_DOMAIN = "com.microsoft"


@functools.cache
def _classes() -> dict[str, Any]:
    """The lean message classes, by name, built on first use (a few milliseconds)."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    field = descriptor_pb2.FieldDescriptorProto
    file = descriptor_pb2.FileDescriptorProto(name="trtadvisor_inferred_types.proto", package="trtadvisor_lean",
                                              syntax="proto2")  # onnx.proto's syntax: the same string rules

    def message(name: str, fields: Iterable[tuple[str, int, int, str]], *, repeated: Iterable[str] = (),
                oneof: str | None = None) -> None:
        """A message of ``fields`` (name, number, type, message type's name), those named in ``repeated``
        repeated, the others optional and, with ``oneof``, members of that oneof."""
        proto = file.message_type.add(name=name)
        if oneof:
            proto.oneof_decl.add(name=oneof)
        for fname, number, kind, of in fields:
            entry = proto.field.add(name=fname, number=number, type=kind,
                                    label=field.LABEL_REPEATED if fname in repeated else field.LABEL_OPTIONAL)
            if kind == field.TYPE_MESSAGE:
                entry.type_name = f".trtadvisor_lean.{of}"
            if oneof:
                entry.oneof_index = 0

    msg, text, raw = field.TYPE_MESSAGE, field.TYPE_STRING, field.TYPE_BYTES
    # Field numbers as in onnx/onnx.proto (ModelProto, GraphProto, ValueInfoProto, TensorProto, TypeProto).
    message("Dimension", [("dim_value", 1, field.TYPE_INT64, ""), ("dim_param", 2, text, "")], oneof="value")
    message("Shape", [("dim", 1, msg, "Dimension")], repeated={"dim"})
    message("Tensor", [("elem_type", 1, field.TYPE_INT32, ""), ("shape", 2, msg, "Shape")])
    # TypeProto's other kinds are in the same oneof: a value info of another kind is not a tensor here either.
    message("Type", [("tensor_type", 1, msg, "Tensor"), ("sequence_type", 4, raw, ""), ("map_type", 5, raw, ""),
                     ("sparse_tensor_type", 8, raw, ""), ("optional_type", 9, raw, "")], oneof="value")
    message("ValueInfo", [("name", 1, text, ""), ("type", 2, raw, "")])
    message("Initializer", [("dims", 1, field.TYPE_INT64, "")], repeated={"dims"})
    lists = {"initializer", "input", "output", "value_info"}
    message("Graph", [("initializer", 5, msg, "Initializer"), ("input", 11, msg, "ValueInfo"),
                      ("output", 12, msg, "ValueInfo"), ("value_info", 13, msg, "ValueInfo")], repeated=lists)
    message("Opset", [("domain", 1, text, "")])
    message("Model", [("graph", 7, msg, "Graph"), ("opset_import", 8, msg, "Opset")], repeated={"opset_import"})
    # The nodes' tensor names alone (node_facts_of), read in a second pass once the types are sent.
    message("NodeNames", [("input", 1, text, ""), ("output", 2, text, "")], repeated={"input", "output"})
    message("GraphNodes", [("node", 1, msg, "NodeNames")], repeated={"node"})
    message("ModelNodes", [("graph", 7, msg, "GraphNodes")])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return {m.name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"trtadvisor_lean.{m.name}"))
            for m in file.message_type}


def shape_of_type(tp: Any) -> TensorType:
    """A TypeProto's element type and shape (an onnx.TypeProto, or the lean ``Type`` of the same fields):
    (0, None) for a type that is not a tensor."""
    if not tp.HasField("tensor_type"):
        return 0, None
    tt = tp.tensor_type
    if not tt.HasField("shape"):
        return tt.elem_type, None
    dims: list[Dim] = []
    for d in tt.shape.dim:
        # dim_value is the common case and reading it is cheaper than asking which field is set
        value = d.dim_value
        if value or d.HasField("dim_value"):
            dims.append(value)
        elif d.dim_param:
            dims.append(d.dim_param)
        else:
            dims.append(None)
    return tt.elem_type, tuple(dims)


def parse_inferred(data: bytes) -> Any:
    """The inferred model's value infos and weights' dims (a lean ``Model``)."""
    model = _classes()["Model"]()
    model.ParseFromString(data)
    return model


def types_of(graph: Any) -> dict[str, TensorType]:
    """Every declared tensor's element type and shape in a lean ``Graph`` (value infos, then inputs, then
    outputs, later ones winning, as trtadvisor.ir.graph.tensor_types_of reads an onnx GraphProto)."""
    parse_type = _classes()["Type"].FromString
    types: dict[str, TensorType] = {}
    decoded: dict[bytes, TensorType] = {}  # by the type's wire bytes: tensors share the decoded tuple
    for items in (graph.value_info, graph.input, graph.output):
        for vi in items:
            key = vi.type
            found = decoded.get(key)
            if found is None:
                found = decoded[key] = shape_of_type(parse_type(key))
            types[vi.name] = found
    return types


def initializer_counts(initializers: Iterable[Any]) -> list[int]:
    """Each initializer's element count, in order (onnx TensorProtos or the lean ``Initializer``)."""
    # prod over a slice (one C copy of the dims) beats iterating the repeated field itself
    return [math.prod(t.dims[:]) for t in initializers]


def initializer_dims(initializers: Iterable[Any]) -> tuple[list[tuple[int, ...]], list[int]]:
    """Every initializer's dims (onnx TensorProtos or the lean ``Initializer``) as the distinct dims and, in
    list order, each one's position among them: a model's tens of thousands of weights have a few hundred
    distinct shapes, and small positions load and index without a new object each."""
    position: dict[tuple[int, ...], int] = {}
    setdefault = position.setdefault
    where = [setdefault(dims, len(position)) for dims in (tuple(t.dims[:]) for t in initializers)]
    return list(position), where


def node_facts_of(data: bytes, types: dict[str, TensorType]) -> tuple[list[str], list[int], list[int], list[int],
                                                                       list[tuple[int, str]]]:
    """For the nodes of the serialized model ``data`` (the model inferred: the same nodes, in the same order),
    what trtadvisor.ir.node_facts.NodeFacts holds: the distinct declared types among their first outputs and first
    inputs, each named by a tensor of that type ("" for None: undeclared or absent), and per node the position of
    its first output's type and first input's type among them and its first output's number of reads; then a few
    (node position, first output) pairs by which the parent checks that its nodes are these."""
    nodes = _classes()["ModelNodes"].FromString(data).graph.node
    # Each repeated field sliced in its own pass: one pass reading both costs more than the two.
    outputs = [node.output[:] for node in nodes]
    inputs = [node.input[:] for node in nodes]
    outs = [names[0] if names else "" for names in outputs]
    ins = [names[0] if names else "" for names in inputs]
    reads = Counter(chain.from_iterable(inputs))
    reads.pop("", None)  # an absent optional input is no read
    out_types, in_types = list(map(types.get, outs)), list(map(types.get, ins))
    # The distinct types by identity, each named by a tensor of that type; None (undeclared) first, named "".
    named_by_type = {id(None): ""}
    named_by_type.update(zip(map(id, chain(out_types, in_types)), chain(outs, ins), strict=True))
    named_by_type[id(None)] = ""  # kept first by the update, named "" again
    position = {key: i for i, key in enumerate(named_by_type)}
    out_at = list(map(position.__getitem__, map(id, out_types)))
    in_at = list(map(position.__getitem__, map(id, in_types)))
    readers = list(map(reads.__getitem__, outs))
    step = max(1, len(outs) // 16)
    return list(named_by_type.values()), out_at, in_at, readers, [(i, outs[i]) for i in range(0, len(outs), step)]


def encode(model: Any, types: dict[str, TensorType], data: bytes | None = None) -> Iterator[bytes]:
    """The shape-inference child's answer in two marshalled parts: every tensor's element type and shape,
    then every initializer's dims (``model``: lean or onnx's; see initializer_dims) and, for the nodes of the
    serialized model ``data`` where given, their facts (node_facts_of; None where they could not be read).

    The child decodes the types (each distinct type once) while the parent is still busy with shape-free
    passes; the parent then holds shared tuples, far smaller than the value infos they come from, and loads
    them in one C call. The dims and the nodes' facts (the cost model reads nearly every weight's size, the
    convolutions' shapes and nearly every node's types, much later) are sweeps the child has time for and the
    parent would do on its critical path: they follow the types, so the parent waits for the types alone.
    """
    yield marshal.dumps(types)
    dims = initializer_dims(model.graph.initializer)
    facts = None
    if data is not None:
        try:
            facts = node_facts_of(data, types)
        except Exception:
            facts = None
    yield marshal.dumps((*dims, facts))


@functools.cache
def cpp_inference() -> ModuleType:
    """ONNX's C++ shape inference (onnx.onnx_cpp2py_export.shape_inference). A shape-inference child forked
    before its parent imported onnx loads the extension alone: importing the onnx package costs 0.12 s."""
    if "onnx" not in sys.modules:
        extension = _load_onnx_extension()
        if extension is not None:
            return extension.shape_inference
    from onnx.onnx_cpp2py_export import shape_inference

    return shape_inference


_ONNX_EXTENSION = "onnx.onnx_cpp2py_export"


def _load_onnx_extension() -> ModuleType | None:
    """onnx's C++ extension module, loaded without running the onnx package's __init__; None where it is not
    found so. It is registered under its name: a later ``import onnx`` takes it from there (the extension
    cannot be initialised twice in one process)."""
    loaded = sys.modules.get(_ONNX_EXTENSION)
    if loaded is not None:
        return loaded
    package = importlib.util.find_spec("onnx")
    if package is None or not package.submodule_search_locations:
        return None
    spec = importlib.machinery.PathFinder.find_spec(_ONNX_EXTENSION, package.submodule_search_locations)
    if spec is None or spec.loader is None:
        return None
    try:
        extension = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(extension)
    except (ImportError, OSError):  # an onnx laid out otherwise: the caller imports the package instead
        return None
    sys.modules[_ONNX_EXTENSION] = extension
    return extension


def strict_inference(data: bytes, propagate: bool) -> bytes:
    """ONNX's shape inference, type-checked and strict (an inconsistency is an error, not a gap)."""
    return cpp_inference().infer_shapes(data, True, True, propagate)


# ONNX's data propagation reads the values of the tensors it propagates, and cannot read external data from
# the bytes it is given: the dynamo exporter's INT64 index initializers (timm CoAtNet's relative position
# index, feeding an Unsqueeze) then fail the whole inference of a valid model.
_EXTERNAL_DATA_PROP = "Cannot parse data from external tensors"


def run_inference(data: bytes) -> bytes:
    """Strict shape inference with data propagation; without it where propagation hit external data (the
    shapes it carries through values are lost, and analysis/values.py evaluates those itself)."""
    try:
        return strict_inference(data, True)
    except Exception as exc:
        if _EXTERNAL_DATA_PROP not in str(exc):
            raise
        return strict_inference(data, False)


# ONNX's data propagation carries values computed from tensor shapes (it starts at Shape and Size) into the
# ops that read a shape from a tensor (Reshape, Expand, ...). Without those ops, and without If/Loop/Scan
# bodies (which the check below does not read), it can only carry constants, and where it carries them
# somewhere that matters a shape is unknown without it. The op types as they appear in a serialized
# NodeProto: field 4 (op_type), length, name. A match anywhere (inside a weight's bytes, say) only makes
# the audit take the slower, always-correct path.
_SHAPE_DATA_MARKERS = tuple(b'"' + bytes([len(op)]) + op for op in (b"Shape", b"Size", b"If", b"Loop", b"Scan"))


def may_need_propagation(data: bytes) -> bool:
    """Whether the serialized model may have shapes only data propagation infers (see above); data
    propagation costs about 15% of the inference on a large graph."""
    return any(marker in data for marker in _SHAPE_DATA_MARKERS)


def every_shape_known(types: dict[str, TensorType]) -> bool:
    """Whether every tensor-typed entry has a shape whose every axis is known: a number or a symbol the
    model names. ONNX names an axis it could not infer 'unk__N' (onnx 1.23), so such a name counts as
    unknown (a model that names an axis so itself only takes the slower path)."""
    distinct = {id(t): t for t in types.values()}  # tensors share their decoded type tuples
    for elem, shape in distinct.values():
        if elem and (shape is None or any(d is None or (isinstance(d, str) and d.startswith(_UNNAMED_AXIS))
                                          for d in shape)):
            return False
    return True


_UNNAMED_AXIS = "unk__"


def lean_types(inferred: bytes) -> tuple[Any, dict[str, TensorType]] | None:
    """The inferred model ``inferred`` read lean, and its types; None for a model that imports ONNX Runtime's
    contrib domain (the loader completes its contrib ops' types on the full onnx.ModelProto)."""
    model = parse_inferred(inferred)
    if any(op.domain == CONTRIB_DOMAIN for op in model.opset_import):
        return None
    return model, types_of(model.graph)


Reader = Callable[[bytes], tuple[Any, dict[str, TensorType]]]


def inferred_types(data: bytes, read: Reader) -> tuple[Any, dict[str, TensorType]]:
    """Infer the serialized model ``data`` and ``read`` the result (into a model and its types): without
    data propagation where that gives every shape (see may_need_propagation), else with it."""
    if not may_need_propagation(data):
        model, types = read(strict_inference(data, False))
        if every_shape_known(types):
            return model, types
        del model, types  # a constant computation feeds a shape: infer again, propagating it
    return read(run_inference(data))


def child_answer(data: bytes, read_in_full: Reader) -> Iterator[bytes]:
    """What the shape-inference child sends for the serialized model ``data`` (see encode): its inferred model
    read lean, or with ``read_in_full`` where it imports ONNX Runtime's contrib domain."""

    def read(inferred: bytes) -> tuple[Any, dict[str, TensorType]]:
        lean = lean_types(inferred)
        return lean if lean is not None else read_in_full(inferred)

    return encode(*inferred_types(data, read), data)
