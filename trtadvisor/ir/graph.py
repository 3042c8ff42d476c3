"""The lean graph IR every later stage reads: nodes, tensors, shapes, dtypes and small constant values.

It is built straight from the ONNX protobuf, never through onnx-graphsurgeon, because building
graphsurgeon's objects costs several seconds on a 100k-node graph and we only need a thin view.
Shapes and attribute values are decoded lazily: most nodes are never asked about them.

Dimensions are ``int`` when known, ``str`` for a symbolic dimension (``"batch"``) and ``None`` when
nothing is known; a shape of ``None`` means the rank is unknown.
"""

from __future__ import annotations

import functools
import math
import struct
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, KeysView
from itertools import chain, compress, filterfalse, repeat
from operator import attrgetter, is_
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnx.defs
from onnx import AttributeProto, TensorProto, numpy_helper

from trtadvisor.errors import ModelLoadError, shown
from trtadvisor.ir.inferred_types import Shape, TensorType, initializer_counts
from trtadvisor.ir.inferred_types import shape_of_type as _shape_of_type
from trtadvisor.ir.node_facts import NodeFacts, checked_node_facts
from trtadvisor.ir.schema_attrs import recorded_attr_types
from trtadvisor.safe_io import read_regular_at

# Shape and TensorType (element type, shape) are defined with the decoder the shape-inference child
# shares (trtadvisor.ir.inferred_types), which must not import this module's onnx and numpy.

REEXPORT_HINT = ("re-export the model, or check it with `python -c \"import onnx; "
                 "onnx.checker.check_model('MODEL')\"`")

# Constants above this many elements are not decoded: only shapes matter for them, and their
# data may live in an external file that we never read.
SMALL_CONSTANT_LIMIT = 4096

FLOAT_TYPES = frozenset({TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.BFLOAT16, TensorProto.DOUBLE})
INT_TYPES = frozenset({TensorProto.INT64, TensorProto.INT32, TensorProto.INT16, TensorProto.INT8,
                       TensorProto.UINT8, TensorProto.UINT16, TensorProto.UINT32, TensorProto.UINT64,
                       TensorProto.BOOL})


class Node:
    """An ONNX node with its attributes decoded on first use."""

    __slots__ = ("_attrs", "domain", "graph", "index", "inputs", "name", "op", "outputs", "subgraphs")

    def __init__(self, index: int, name: str, op: str, domain: str, inputs: tuple[str, ...],
                 outputs: tuple[str, ...], graph: Graph) -> None:
        self.index = index
        self.name = name
        self.op = op
        self.domain = domain
        self.inputs = inputs
        self.outputs = outputs
        self.graph = graph
        self.subgraphs: list[Graph] = _NO_BODIES  # replaced by a list for If/Loop/Scan nodes
        self._attrs: dict[str, Any] | None = None

    @property
    def proto(self) -> onnx.NodeProto:
        """The NodeProto, fetched when asked: holding 100k wrappers would cost more than finding one."""
        return self.graph.node_protos[self.index]

    def attr(self, key: str, default: Any = None) -> Any:
        """The attribute's value; a duplicated attribute, or one whose type contradicts the op's ONNX
        schema (an ``axis`` given as a string), is a ModelLoadError rather than a value to compute with."""
        if self._attrs is None:
            attributes = self.graph.node_protos[self.index].attribute  # self.proto, without the property call
            count = len(attributes)
            if count == 1:  # the common case (a perm, an axis): one name cannot repeat
                only = attributes[0]
                self._attrs = {only.name: only}
            elif not count:
                self._attrs = {}
            else:
                self._attrs = {a.name: a for a in attributes}
            if len(self._attrs) != count:
                seen = [a.name for a in attributes]
                twice = next(n for n in seen if seen.count(n) > 1)
                raise ModelLoadError(f"node '{shown(self.name)}' ({shown(self.op)}) has attribute '{shown(twice)}' "
                                     "twice", REEXPORT_HINT)
        raw = self._attrs.get(key)
        if raw is None:
            return default
        if isinstance(raw, AttributeProto):
            expected = _schema_attr_type(self.domain, self.op, key)
            if expected is not None and raw.type != expected:
                raise ModelLoadError(
                    f"node '{shown(self.name)}' ({shown(self.op)}) has attribute '{shown(key)}' of type "
                    f"{_ATTR_TYPE_NAMES.get(raw.type, raw.type)}; ONNX defines it as "
                    f"{_ATTR_TYPE_NAMES.get(expected, expected)}", REEXPORT_HINT)
            value = _decode_attribute(raw)
            self._attrs[key] = value
            return value
        return raw

    def has_attr(self, key: str) -> bool:
        return any(a.name == key for a in self.proto.attribute)

    def input(self, i: int) -> str:
        """The i-th input name, or "" when it is absent (optional inputs)."""
        return self.inputs[i] if i < len(self.inputs) else ""

    def __repr__(self) -> str:
        return f"Node({self.name!r}, {self.op})"


def _raise_for_non_text(proto: onnx.GraphProto) -> None:
    """Raise a ModelLoadError for the first name in ``proto`` that is not UTF-8 text (protobuf gives bytes)."""
    for node in proto.node:
        for what, values in (("node name", [node.name]), ("op type", [node.op_type]), ("domain", [node.domain]),
                             ("tensor name", [*node.input, *node.output])):
            for value in values:
                if isinstance(value, bytes):
                    article = "an" if what[0] in "aeiou" else "a"
                    raise ModelLoadError(f"{article} {what} is not UTF-8 text "
                                         f"({shown(value.decode('utf-8', 'replace'))})",
                                         "ONNX names are UTF-8; re-export the model")
    for vi in (*proto.input, *proto.output, *proto.value_info, *proto.initializer):
        if isinstance(vi.name, bytes):
            raise ModelLoadError(f"a tensor name is not UTF-8 text ({shown(vi.name.decode('utf-8', 'replace'))})",
                                 "ONNX names are UTF-8; re-export the model")


_ATTR_TYPE_NAMES = {v: k for k, v in AttributeProto.AttributeType.items()}

_INT32_MAX = 2**31 - 1


def schema_opset(opset: int) -> int:
    """An opset number onnx.defs.get_schema accepts: it takes a C int, and a model may declare any int64 (a
    hostile or corrupt file). Past the largest, the lookup gives the newest definition, as it would at the
    newest real opset; below zero there is none at all (SchemaError), as at zero."""
    return min(max(opset, -1), _INT32_MAX)


_NO_OPS: dict[str, dict[str, int]] = {}
_NO_ATTRS: dict[str, int] = {}


@functools.lru_cache(maxsize=4096)
def _schema_attr_type(domain: str, op: str, key: str) -> int | None:
    """The attribute type the ONNX schema of ``op`` declares for ``key``; None for ops it does not know."""
    domain = domain if domain != "ai.onnx" else ""
    table = recorded_attr_types()  # the registry's answers, written ahead: building it costs ~15 ms a run
    if table is not None:
        return table.get(domain, _NO_OPS).get(op, _NO_ATTRS).get(key)
    try:
        schema = onnx.defs.get_schema(op, domain)
    except Exception:  # a custom domain or an unknown op: no schema to hold it against
        return None
    attribute = schema.attributes.get(key)
    return int(attribute.type) if attribute is not None else None


# The attribute kinds as plain ints, so a decode compares locals, not enum attributes of the class.
_A_INT, _A_INTS, _A_FLOAT = AttributeProto.INT, AttributeProto.INTS, AttributeProto.FLOAT
_A_FLOATS = AttributeProto.FLOATS
_A_STRING, _A_STRINGS, _A_TENSOR = AttributeProto.STRING, AttributeProto.STRINGS, AttributeProto.TENSOR
_A_GRAPH, _A_GRAPHS = AttributeProto.GRAPH, AttributeProto.GRAPHS


def _decode_attribute(attr: AttributeProto) -> Any:
    kind = attr.type
    if kind == _A_INT:
        return attr.i
    if kind == _A_INTS:
        return attr.ints[:]  # a slice: the list in one C call
    if kind == _A_FLOAT:
        return attr.f
    if kind == _A_FLOATS:
        return attr.floats[:]
    if kind == _A_STRING:
        return attr.s.decode("utf-8", "replace")
    if kind == _A_STRINGS:
        return [s.decode("utf-8", "replace") for s in attr.strings]
    if kind == _A_TENSOR:
        return attr.t
    if kind == _A_GRAPH:
        return attr.g
    if kind == _A_GRAPHS:
        return list(attr.graphs)
    return None


def _is_external(t: TensorProto) -> bool:
    return t.data_location == TensorProto.EXTERNAL


def tensor_element_count(t: TensorProto) -> int:
    return math.prod(t.dims[:])  # a slice copies the dims in one C call


# Element types whose raw_data numpy reads directly (little-endian, as ONNX stores it).
_RAW_DTYPES = {TensorProto.FLOAT: np.dtype("<f4"), TensorProto.DOUBLE: np.dtype("<f8"),
               TensorProto.FLOAT16: np.dtype("<f2"), TensorProto.INT64: np.dtype("<i8"),
               TensorProto.INT32: np.dtype("<i4"), TensorProto.INT8: np.dtype("i1"),
               TensorProto.UINT8: np.dtype("u1"), TensorProto.BOOL: np.dtype("?")}


_FLOAT = TensorProto.FLOAT

# One element of a raw_data type, unpacked without numpy (Graph.scalar); the layouts of _RAW_DTYPES.
_SCALAR_UNPACK = {TensorProto.FLOAT: struct.Struct("<f"), TensorProto.DOUBLE: struct.Struct("<d"),
                  TensorProto.FLOAT16: struct.Struct("<e"), TensorProto.INT64: struct.Struct("<q"),
                  TensorProto.INT32: struct.Struct("<i"), TensorProto.INT8: struct.Struct("b"),
                  TensorProto.UINT8: struct.Struct("B")}


# Element types held in a typed field whose values numpy takes as they are (FLOAT16 and the small
# integer types pack their bits into int32_data, so they go through numpy_helper).
_TYPED_FIELDS = {TensorProto.FLOAT: ("float_data", np.float32), TensorProto.DOUBLE: ("double_data", np.float64),
                 TensorProto.INT64: ("int64_data", np.int64), TensorProto.INT32: ("int32_data", np.int32)}


def decode_tensor(t: TensorProto, limit: int = SMALL_CONSTANT_LIMIT) -> np.ndarray | None:
    """The value of a small, inline tensor; None for external data, large tensors or odd payloads."""
    if _is_external(t):
        return None
    count = tensor_element_count(t)
    if count > limit:
        return None
    dtype = _RAW_DTYPES.get(t.data_type)
    if dtype is not None and t.raw_data:
        # The common case, without numpy_helper's general machinery (thousands of scalars per model).
        raw = t.raw_data
        if len(raw) == count * dtype.itemsize:
            return np.frombuffer(raw, dtype=dtype).reshape(tuple(t.dims))
    typed = _TYPED_FIELDS.get(t.data_type)
    if typed is not None:  # values written as a typed list (onnx.helper.make_tensor's default)
        field_name, dtype = typed
        values = getattr(t, field_name)
        if len(values) == count:
            return np.array(values, dtype=dtype).reshape(tuple(t.dims))
    try:
        return numpy_helper.to_array(t)
    except Exception:  # an odd dtype or a malformed payload: treat as unknown, not fatal
        return None


_decode_constant = decode_tensor

# Small tensors an exporter wrote to external data (the dynamo exporter puts causal masks, gather indices
# and rotary tables there): read on demand, bounded, never weights.
EXTERNAL_READ_LIMIT = 1 << 22  # bytes


class ExternalData:
    """Reads small external-data tensors of one model from the data files in its folder that the loader
    found there (locations inside the folder only). The loader itself never reads external data; an
    analysis asks for a value only where it needs one (a mask, a shape), so a model's weights stay unread."""

    __slots__ = ("files", "folder")

    def __init__(self, folder: Path, files: frozenset[str]) -> None:
        self.folder = folder
        self.files = files

    def decode(self, t: TensorProto, limit: int = EXTERNAL_READ_LIMIT) -> np.ndarray | None:
        dtype = _RAW_DTYPES.get(t.data_type)
        if dtype is None or not _is_external(t):
            return None
        length = tensor_element_count(t) * dtype.itemsize
        if length > limit:
            return None
        info = {e.key: e.value for e in t.external_data}
        location = info.get("location")
        if location not in self.files:
            return None
        try:
            offset = int(info.get("offset", 0))
            if int(info.get("length", length)) != length or offset < 0:
                return None
            raw = read_regular_at(self.folder / location, offset, length)
        except (OSError, ValueError):
            return None
        if raw is None:
            return None
        if len(raw) != length:
            return None  # a data file shorter than the model says: unknown, not an error here
        return np.frombuffer(raw, dtype=dtype).reshape(tuple(t.dims))


class ValueInfoIndex:
    """Element type and shape by tensor name, read from a GraphProto's value infos on demand.

    Positions in the GraphProto's lists rather than retained wrappers: a 100k-node graph has 100k
    value infos, and their wrappers alone cost tens of MB; a query decodes one, and most tensors
    are never asked about. Later lists win (outputs over inputs over intermediate value infos).
    """

    __slots__ = ("_lists", "_where")

    def __init__(self, source: onnx.GraphProto) -> None:
        self._lists = (source.value_info, source.input, source.output)
        names = [vi.name for items in self._lists for vi in items]
        self._where = dict(zip(names, range(len(names)), strict=True))

    def decode_all(self) -> dict[str, TensorType]:
        """Every entry at once, each distinct type decoded once: for a pass that asks about nearly all."""
        return _decode_all(self._lists)

    def get(self, name: str) -> TensorType | None:
        k = self._where.get(name)
        if k is None:
            return None
        for items in self._lists:
            if k < len(items):
                return _shape_of_type(items[k].type)
            k -= len(items)
        return None


def tensor_types_of(source: onnx.GraphProto) -> dict[str, TensorType]:
    """Every declared tensor's element type and shape, decoded at once (value infos, then inputs,
    then outputs, later ones winning, as in ValueInfoIndex): plain data a child process can send."""
    return _decode_all((source.value_info, source.input, source.output))


def _decode_all(lists: Iterable[Any]) -> dict[str, TensorType]:
    types: dict[str, TensorType] = {}
    # Most tensors share a type with many others (float[batch,64,56,56]): decode each distinct
    # TypeProto once, keyed by its bytes (one C call), and share the tuple, which also keeps the
    # marshalled answer small and quick to load.
    decoded: dict[bytes, TensorType] = {}
    for items in lists:
        for vi in items:
            tp = vi.type
            key = tp.SerializeToString()
            found = decoded.get(key)
            if found is None:
                found = decoded[key] = _shape_of_type(tp)
            types[vi.name] = found
    return types


# What the shape-inference child sends after the types (inferred_types.encode): the distinct dims, each
# initializer's position among them, and the nodes' facts (inferred_types.node_facts_of) for the graph to check.
SentAfterTypes = tuple[list[object], list[object], object]


class _InitializerIndex:
    """Initializers by name, as positions in the GraphProto's list (no retained wrappers)."""

    __slots__ = ("_counts", "_dims", "_dims_at", "_dims_counts", "_drop_offer", "_items", "_offered", "_sent_nodes",
                 "_where", "external_files")

    def __init__(self, items: Any) -> None:
        self._items = items
        where: dict[str, int] = {}
        # The files that initializers stored outside the model name (their "location" entry), noted in the
        # one pass over the list that indexes the names: reading every initializer a second time costs
        # as much again on a model with tens of thousands of weights.
        files: set[str] = set()
        external = TensorProto.EXTERNAL
        for i, t in enumerate(items):
            where[t.name] = i
            if t.data_location == external:
                for entry in t.external_data:
                    if entry.key == "location":
                        files.add(entry.value)
                        break
        self._where = where
        self.external_files: frozenset[str] = frozenset(files)
        self._counts: list[int | None] | None = None  # see count_all
        self._sent_nodes: object = None  # the nodes' facts sent with the dims, for the graph to check (node_facts_sent)
        # Where offered (offer_dims): the distinct dims, and each initializer's position among them in list order
        # (then None, the position dims_keys gives a name that is no initializer).
        self._dims: list[tuple[int, ...]] = []
        self._dims_at: list[int] | None = None
        self._dims_counts: list[int] = []  # each distinct dims' element count
        self._offered: Callable[[], SentAfterTypes | None] | None = None  # see offer_dims
        self._drop_offer: Callable[[], None] = _nothing

    def get(self, name: str) -> TensorProto | None:
        i = self._where.get(name)
        return None if i is None else self._items[i]

    def __contains__(self, name: object) -> bool:
        return name in self._where

    def __len__(self) -> int:
        return len(self._where)

    def names(self) -> KeysView[str]:
        return self._where.keys()

    def counts_of(self, names: Iterable[str]) -> list[int | None]:
        """The element counts of ``names`` (None for a name that is no initializer), looked up in C: a stage
        that needs most of them (the cost model) pays one sweep of the list (count_all) and no map by name."""
        counts = self.count_all()
        return list(map(counts.__getitem__, map(self._where.get, names, repeat(len(counts) - 1))))

    def total_count(self, names: list[str]) -> tuple[int, list[str]]:
        """The summed element counts of the initializers among ``names``, and the names that are no initializer:
        where the shape-inference child sent the dims, counted by their distinct dims (small keys, in C)."""
        keys = self.dims_keys(names)
        if keys is None:
            counts = self.counts_of(names)
            return sum(filter(None, counts)), list(compress(names, map(is_, counts, repeat(None))))  # type: ignore[arg-type]
        times = Counter(keys)
        rest = list(compress(names, map(is_, keys, repeat(None)))) if times.pop(None, 0) else []
        per_dims = self._dims_counts
        return sum(per_dims[key] * many for key, many in times.items()), rest

    def count_of(self, name: str) -> int | None:
        """The element count of ``name`` (None when it is no initializer)."""
        i = self._where.get(name)
        return None if i is None else self.count_all()[i]

    def count_all(self) -> list[int | None]:
        """Every initializer's element count in list order, then None (the position of a name that is no
        initializer): from the dims the shape-inference child sent (offer_dims), else counted here in one
        C-level sweep of the list, once."""
        self._take_dims()
        counts = self._counts
        if counts is None:
            counts = self._counts = [*initializer_counts(self._items), None]
        return counts

    def dims_keys(self, names: Iterable[str]) -> list[int | None] | None:
        """For each of ``names``, a key of its dims (equal dims, equal keys; None for a name that is no
        initializer), in two C-level lookups; None unless the shape-inference child sent the dims (offer_dims)."""
        self._take_dims()
        at = self._dims_at
        if at is None:
            return None
        return list(map(at.__getitem__, map(self._where.get, names, repeat(len(at) - 1))))

    def offer_dims(self, fetch: Callable[[], SentAfterTypes | None], drop: Callable[[], None]) -> None:
        """Every initializer's dims, read elsewhere from the same list (the shape-inference child, which has
        time to spare): ``fetch()`` waits for them (the distinct dims and each initializer's position among
        them in list order, see inferred_types.initializer_dims, with the nodes' facts; None when they did not
        come) and is called when counts, dims or the nodes' facts are first asked for, or settled; ``drop()``
        gives them up. Taken when whole and of plain dims. Whoever offers ends the offer: settle_dims or
        drop_dims (taking them on first use leaves the sender to end later: it may still be leaving)."""
        self.drop_dims()
        self._offered, self._drop_offer = fetch, drop

    def settle_dims(self) -> None:
        """Take the offered dims now, if not taken yet, and end their sender."""
        self._take_dims()
        end, self._drop_offer = self._drop_offer, _nothing
        end()

    def drop_dims(self) -> None:
        """Give the offered dims up (their sender is stopped)."""
        drop, self._offered, self._drop_offer = self._drop_offer, None, _nothing
        drop()

    def node_facts_sent(self) -> object:
        """The nodes' facts the shape-inference child sent with the dims, unchecked (Graph.node_facts checks
        them); None where none came."""
        self._take_dims()
        return self._sent_nodes

    def _take_dims(self) -> None:
        fetch, self._offered = self._offered, None
        if fetch is None:
            return
        sent = fetch()
        if sent is None:
            return
        dims, at, self._sent_nodes = sent
        if len(at) != len(self._items) or not all(
                type(shape) is tuple and all(type(d) is int and d >= 0 for d in shape) for shape in dims):
            return
        per_dims = [math.prod(shape) for shape in dims]  # type: ignore[arg-type]
        try:
            if at and min(at) < 0:  # type: ignore[type-var]
                return
            counts: list[int | None] = list(map(per_dims.__getitem__, at))  # type: ignore[arg-type]
        except (TypeError, IndexError):  # a position not an int, or past the distinct dims
            return
        self._dims, self._dims_at = dims, [*at, None]  # type: ignore[assignment,list-item]  (checked above)
        self._dims_counts = per_dims  # type: ignore[assignment]
        if self._counts is None:  # else counted here while waiting for the types
            counts.append(None)
            self._counts = counts

    def items(self) -> Iterator[tuple[str, TensorProto]]:
        for name, i in self._where.items():
            yield name, self._items[i]

    def values(self) -> Iterator[TensorProto]:
        for i in self._where.values():
            yield self._items[i]


class Graph:
    """One ONNX graph (the main graph or an If/Loop/Scan body) as a lean, read-only view.

    Tensors are plain names; who produces and who reads each one lives in two dicts, because
    building an object per tensor costs more than every query made of them on a 100k-node graph.
    """

    def __init__(self, proto: onnx.GraphProto, name_prefix: str = "", parent: Graph | None = None) -> None:
        self.proto = proto
        # The node list's wrapper, made once: protobuf makes a new one each time proto.node is read, and a
        # node's attributes are read through it (Node.attr) tens of thousands of times on a large graph.
        self.node_protos = proto.node
        self.parent = parent
        self.nodes: list[Node] = []
        self.producers: dict[str, Node] = {}
        self.readers: dict[str, list[Node]] = {}
        self.inputs: list[str] = [vi.name for vi in proto.input]
        self.outputs: list[str] = [vi.name for vi in proto.output]
        self._output_set = frozenset(self.outputs)
        # Initializers by name: made here, as every graph needs it, so a query reads an attribute and not a property.
        self.initializers = _InitializerIndex(proto.initializer)
        # Element types and shapes by tensor name: this graph's own value infos, or what a shape
        # inference elsewhere sent back (see adopt_types_later).
        self._types: ValueInfoIndex | dict[str, TensorType] | None = None
        self._pending_types: Callable[[], ValueInfoIndex | dict[str, TensorType]] | None = None
        self._types_ready: Callable[[], bool] = _always
        self._const_cache: dict[str, np.ndarray | None] = {}
        self._shape_cache: dict[str, Shape | None] = {}
        self._scalar_cache: dict[str, float | None] = {}
        self.duplicate_outputs: list[str] = []  # tensors written by two nodes: an invalid model
        # The model's external data files, where present (set by the loader for every graph of the model).
        self.external_data: ExternalData | None = parent.external_data if parent is not None else None
        self._control_nodes: list[Node] = []  # nodes with bodies (If/Loop/Scan), so walk() skips the rest
        self._declared_input_shapes: dict[str, Shape | None] | None = None
        self._cancel_types: Callable[[], None] = _nothing
        self._child_types: object = None  # the types adopted from pending inference (see node_facts)
        self._node_facts: NodeFacts | bool | None = None  # checked once; False: none sent, or not these nodes'
        self._op_index: dict[str, list[Node]] = {}
        self._op_combinations: dict[frozenset[str], list[Node]] = {}
        self._by_name: dict[str, Node] | None = None
        self._read_before_written: list[str] = []  # see outer_scope_reads
        self._all_names: set[str] | None = None  # every node's own name, when one repeats (see _free_name)
        self._names_settled = 0  # nodes before this index have a name of their own (see _settle_names)
        self._seen_names: set[str] | None = None  # their names, until one repeats
        self._used_names: set[str] | None = None  # their names without the prefix, once one repeated
        try:
            self._build(proto, name_prefix)
            # protobuf hands back bytes, not str, for a name that is not UTF-8: one C-level join
            # over each name table finds one without a per-name check in the loop above.
            for names in (self.producers, self.readers, self.inputs, self.outputs, self._op_index):
                "".join(names)
        except TypeError:
            _raise_for_non_text(proto)
            raise
        initializers = self.initializers
        self._input_set = frozenset(n for n in self.inputs if n not in initializers)
        self.inputs = [n for n in self.inputs if n in self._input_set]
        # Names whose value is fixed at build time: initializers no node overwrites, and Constant
        # outputs. Passes ask about nearly every operand, so it is one set lookup (key views in C).
        constants = initializers.names() - self.producers.keys()  # a new set
        self.initializers_constant = len(constants) == len(initializers)  # no node overwrites an initializer
        constants.update(o for n in self._op_index.get("Constant", ()) for o in n.outputs if o)
        self.constant_names: frozenset[str] = frozenset(constants)
        if self._control_nodes and parent is None:
            _adopt_outer_constants(self)


    # -- construction -------------------------------------------------------------------------

    def _build(self, proto: onnx.GraphProto, prefix: str) -> None:
        producers = self.producers
        readers = self.readers
        nodes = self.nodes
        # Tensor names are not interned: on a 100k-node graph that would save ~4 MB but cost ~80 ms.
        by_op: dict[str, list[Node]] = {}  # the op index nodes_of reads, filled on the way
        unproduced = self._read_before_written
        get_readers, add_node = readers.get, nodes.append
        for index, node_proto in enumerate(proto.node):
            op = node_proto.op_type
            # Slicing copies a repeated field in one C call, faster than iterating it; tuples are
            # smaller than the lists a slice gives.
            inputs = tuple(node_proto.input[:])
            outputs = tuple(node_proto.output[:])
            same_op = by_op.get(op)
            if same_op is not None:
                op = same_op[0].op  # one string per op type, however many nodes share it
            # A repeated name is made unique once the whole graph is read (_settle_names), except
            # a control-flow node's: its bodies' names start with it (settled before they are built).
            node = Node(index, prefix + (node_proto.name or _unnamed_node_name(op, outputs, index)), op,
                        node_proto.domain, inputs, outputs, self)
            add_node(node)
            if same_op is None:
                by_op[op] = [node]
            else:
                same_op.append(node)
            for inp in inputs:
                if inp:
                    lst = get_readers(inp)
                    if lst is None:
                        readers[inp] = [node]
                        if inp not in producers:  # read before written: a weight, an input, or neither
                            unproduced.append(inp)
                    else:
                        lst.append(node)
            for out in outputs:
                if out:
                    if out in producers:
                        self.duplicate_outputs.append(out)
                    producers[out] = node
            if op in _CONTROL_OPS:
                self._settle_names(proto, prefix, index + 1)
                self._attach_subgraphs(node, prefix)
                self._control_nodes.append(node)
        self._settle_names(proto, prefix, len(nodes))
        self._seen_names = self._used_names = None
        self._op_index = by_op

    def _settle_names(self, proto: onnx.GraphProto, prefix: str, end: int) -> None:
        """Give every node before ``end`` a name of its own: the second node called ``name`` becomes
        ``name__index`` (see _free_name), nodes in graph order, as TensorRT's parser names its layers.

        Exporters rarely repeat a name: until one does, each stretch of nodes is checked at once, in C."""
        start = self._names_settled
        if start >= end:
            return
        self._names_settled = end
        nodes = self.nodes
        cut = len(prefix)
        used = self._used_names
        if used is None:
            batch = set(map(_node_name, nodes[start:end]))
            seen = self._seen_names
            if len(batch) == end - start and (seen is None or seen.isdisjoint(batch)):
                if seen is None:
                    self._seen_names = batch
                else:
                    seen.update(batch)
                return
            # A name repeats: from here on, each node's name is settled in turn.
            used = self._used_names = {name[cut:] for name in map(_node_name, nodes[:start])}
        for node in nodes[start:end]:
            name = node.name[cut:]
            if name in used:  # exporters do write duplicates; keep names unique for reports
                name = self._free_name(proto, name, node.index, used)
                node.name = prefix + name
            used.add(name)

    def _free_name(self, proto: onnx.GraphProto, name: str, index: int, used: set[str]) -> str:
        """A name for the second node called ``name``: ``name__index``, unless an earlier or later node
        of the graph is called that already (then with more underscores), so every node keeps one name."""
        if self._all_names is None:  # built once, and only for a graph that repeats a name
            self._all_names = {n.name for n in proto.node}
        candidate = f"{name}__{index}"
        while candidate in used or candidate in self._all_names:
            candidate += "_"
        return candidate

    def _attach_subgraphs(self, node: Node, prefix: str) -> None:
        node.subgraphs = []
        for attr in node.proto.attribute:
            if attr.type not in (AttributeProto.GRAPH, AttributeProto.GRAPHS):
                continue
            bodies = [attr.g] if attr.type == AttributeProto.GRAPH else list(attr.graphs)
            for body in bodies:
                # node.name already carries this graph's prefix: adding it again doubled the names at
                # every level (If nested 24 deep made 16 MB names)
                sub = Graph(body, name_prefix=f"{node.name}/{attr.name}/", parent=self)
                node.subgraphs.append(sub)
                # Outer-scope values a body reads count as inputs of the If/Loop node: they have
                # one more reader, which blocks fusions that would swallow them.
                for outer in sub.outer_scope_reads():
                    lst = self.readers.setdefault(outer, [])
                    if node not in lst:
                        lst.append(node)

    def outer_scope_reads(self) -> list[str]:
        """Values this graph reads but neither produces nor declares: they come from an outer scope.

        Only names first read before any node wrote them can be such values (the build lists
        them), so this looks at the graph's weights and inputs rather than at every tensor.
        """
        producers, inputs = self.producers, self._input_set
        # Nearly all of them are weights: those are filtered out in C, so the loop sees the graph's inputs.
        return [name for name in filterfalse(self.initializers._where.__contains__, self._read_before_written)
                if name not in producers and name not in inputs]

    def reads_before_producer(self) -> list[str]:
        """Tensors a node reads before the node that writes them (nodes not in topological order).

        Only names first read before any node wrote them can be such tensors (the build lists them),
        so a sorted graph answers with a few set lookups per weight and input.
        """
        producers = self.producers
        unproduced = self._read_before_written
        if producers.keys().isdisjoint(unproduced):  # a sorted graph: answered in C
            return []
        return [name for name in unproduced if name in producers]

    def duplicate_initializers(self) -> list[str]:
        """Initializer names listed more than once (the index keeps the last copy, as ONNX Runtime does)."""
        if len(self.initializers) == len(self.proto.initializer):
            return []
        seen: set[str] = set()
        twice: list[str] = []
        for t in self.proto.initializer:
            if t.name in seen and t.name not in twice:
                twice.append(t.name)
            seen.add(t.name)
        return twice

    @property
    def tensor_types(self) -> ValueInfoIndex | dict[str, TensorType]:
        """Element type and shape by tensor name (``.get(name)``); waits for pending inference."""
        if self._types is None:
            if self._pending_types is not None:
                if not self._types_ready():
                    # Waiting for the inference child anyway: read the weights' sizes (the cost model
                    # needs nearly all of them) in time that would otherwise be spent blocked.
                    self.initializers.count_all()
                pending, self._pending_types = self._pending_types, None
                self._types_ready, self._cancel_types = _always, _nothing
                self.adopt_types(pending())
                self._child_types = self._types  # what the child sends after them is about these (node_facts)
            else:
                self._types = ValueInfoIndex(self.proto)
        return self._types

    def adopt_types_later(self, pending: Callable[[], ValueInfoIndex | dict[str, TensorType]],
                          cancel: Callable[[], None],
                          ready: Callable[[], bool] = lambda: True) -> None:
        """Types still being inferred elsewhere: the first shape query waits for them.

        ``ready`` tells, without waiting, whether they have arrived (see shape_if_ready). Whoever loaded
        the graph this way owns the inference and ends it: :meth:`settle_types` waits for it,
        :meth:`cancel_types` stops it (``api.audit`` does one or the other before it returns or raises).
        """
        self._pending_types = pending
        self._types_ready = ready
        self._cancel_types = cancel
        self._types = None
        self._shape_cache.clear()

    def settle_types(self) -> None:
        """Wait for pending shape inference, if any, and the weights' dims it sends after the types (its
        process, if any, is then reaped)."""
        if self._pending_types is not None:
            self.tensor_types  # noqa: B018  (waits, adopts, and raises for an inconsistent model)
        self.initializers.settle_dims()

    def cancel_types(self) -> None:
        """Stop pending shape inference (an audit that failed): its process ends now."""
        if self._pending_types is not None:
            self._pending_types = None
            self._types_ready = _always
            cancel, self._cancel_types = self._cancel_types, _nothing
            cancel()
        self.initializers.drop_dims()

    def node_facts(self) -> NodeFacts | None:
        """What the cost model reads of nearly every node, by node position (see trtadvisor.ir.node_facts); None
        unless the shape-inference child sent them with the types this graph holds (not types completed since)."""
        types = self._types
        if types is None or types is not self._child_types:
            return None
        if self._node_facts is None:
            self._node_facts = checked_node_facts(self.initializers.node_facts_sent(), types, self.nodes) or False
        return self._node_facts or None

    def decode_all_types(self) -> None:
        """Decode every declared type now, in bulk: cheaper than one by one when a pass (the cost
        model) reads nearly every tensor's shape; lazy decoding stays the default."""
        types = self.tensor_types
        if isinstance(types, ValueInfoIndex):
            self.adopt_types(types.decode_all())

    def adopt_types(self, types: ValueInfoIndex | dict[str, TensorType]) -> None:
        """Take element types and shapes from shape inference's result (value infos, inputs and
        outputs of the inferred graph: the nodes, initializers and names stay this graph's own)."""
        self._types = types
        self._shape_cache.clear()

    # -- queries ------------------------------------------------------------------------------

    def producer(self, name: str) -> Node | None:
        return self.producers.get(name)

    def consumers(self, name: str) -> list[Node]:
        return self.readers.get(name, _NO_NODES)

    def is_graph_output(self, name: str) -> bool:
        return name in self._output_set

    def is_graph_input(self, name: str) -> bool:
        return name in self._input_set

    def shape(self, name: str) -> Shape | None:
        cached = self._shape_cache.get(name, _MISSING)
        if cached is not _MISSING:
            return cached  # type: ignore[return-value]
        shape = self._decode_shape(name)
        self._shape_cache[name] = shape
        return shape

    def shape_if_ready(self, name: str) -> tuple[bool, Shape | None]:
        """(True, shape) when the shape is known without waiting for shape inference, else (False, None).

        Only ``PlanContext.from_shapes`` calls this: it records the assumption of any decision made
        without the shape, so no pass can go ahead speculatively without registering one
        (tests/core/test_speculative_plan.py checks that nothing else calls it).
        """
        if self._pending_types is None or name in self._shape_cache or self.initializers.get(name) is not None:
            return True, self.shape(name)
        if self._types_ready():
            return True, self.shape(name)  # arrived: take them now
        declared = self.declared_input_shapes()
        if name in declared:
            return True, declared[name]  # a graph input's type is what the model declares
        return False, None

    def declared_input_shapes(self) -> dict[str, Shape | None]:
        """Each graph input's shape as the model declares it: shape inference never changes these,
        so they are known before it answers."""
        if self._declared_input_shapes is None:
            self._declared_input_shapes = {
                vi.name: _shape_of_type(vi.type)[1] for vi in self.proto.input if vi.name in self._input_set}
        return self._declared_input_shapes

    def inputs_static(self) -> bool:
        """Whether every graph input declares a fully known shape (no symbolic or unknown axis)."""
        return all(map(is_static, self.declared_input_shapes().values()))

    def _decode_shape(self, name: str) -> Shape | None:
        initializers = self.initializers
        i = initializers._where.get(name)  # the index read inline: a shape query is one per operand
        if i is not None:
            if initializers._dims_at is not None:  # sent by the shape-inference child
                return initializers._dims[initializers._dims_at[i]]
            return tuple(initializers._items[i].dims[:])  # a slice copies the dims in C
        types = self._types
        if types is None:
            types = self.tensor_types  # waits for pending inference and adopts its result
        declared = types.get(name)
        if declared is not None:
            return declared[1]
        node = self.producers.get(name)
        if node is not None and node.op == "Constant":
            value = node.attr("value")
            if isinstance(value, TensorProto):
                return tuple(int(d) for d in value.dims)
            const = _constant_node_value(node)
            if const is not None:
                return tuple(const.shape)
        return None

    def rank(self, name: str) -> int | None:
        shape = self.shape(name)
        return None if shape is None else len(shape)

    def dtype(self, name: str) -> int:
        init = self.initializers.get(name)
        if init is not None:
            return init.data_type
        declared = self.tensor_types.get(name)
        if declared is not None:
            return declared[0]
        return 0

    def is_constant(self, name: str) -> bool:
        """True for initializers and outputs of Constant nodes (values fixed at build time)."""
        return name in self.constant_names

    def is_weight(self, name: str) -> bool:
        """A constant, also behind the Identity the TorchScript exporter routes a deduplicated initializer through
        (equal tensors, as the zero biases of a freshly initialized model, are stored once)."""
        node = self.producers.get(name)
        if node is not None and node.op == "Identity" and node.inputs:
            name = node.inputs[0]
        return name in self.constant_names

    def constant_size(self, name: str) -> int | None:
        if not self.is_constant(name):
            return None
        return _element_count(self.shape(name))

    def const_value(self, name: str) -> np.ndarray | None:
        """The value of a small constant (Reshape targets, axes, scalars); None if unknown or large."""
        if name in self._const_cache:
            return self._const_cache[name]
        value: np.ndarray | None = None
        node = self.producers.get(name)
        if node is not None:
            if node.op == "Constant":
                value = _constant_node_value(node)
        else:
            init = self.initializers.get(name)
            if init is not None:
                value = _decode_constant(init)
        self._const_cache[name] = value
        return value

    def scalar(self, name: str) -> float | None:
        """The single value of a constant holding exactly one element, else None."""
        node = self.producers.get(name)
        if node is not None and node.op != "Constant":
            return None  # an activation: the common case, one lookup and nothing cached
        cache = self._scalar_cache
        cached = cache.get(name, _MISSING)
        if cached is not _MISSING:
            return cached  # type: ignore[return-value]
        if node is None:
            # A weight, an input or nothing: the initializer index read inline, and most weights asked
            # about (biases, scales) answered from their dims without a call or a decode.
            initializers = self.initializers
            i = initializers._where.get(name)
            if i is None:
                cache[name] = None
                return None
            init = initializers._items[i]
            if math.prod(init.dims[:]) != 1:
                cache[name] = None
                return None
            data_type = init.data_type
            if data_type == _FLOAT:
                floats = init.float_data  # the field's wrapper made once (each read of it makes a new one)
                if len(floats) == 1:
                    value = cache[name] = float(floats[0])  # helper.make_tensor's layout, without numpy
                    return value
            # One number in raw_data (how exporters write a scalar): read with struct, not numpy. The value
            # is the one decode_tensor's array would give (same little-endian layout, float of it).
            unpack = _SCALAR_UNPACK.get(data_type)
            if unpack is not None and init.data_location != TensorProto.EXTERNAL:
                raw = init.raw_data
                if len(raw) == unpack.size:
                    value = cache[name] = float(unpack.unpack(raw)[0])
                    return value
        value = cache[name] = self._decode_scalar(name)
        return value

    def _decode_scalar(self, name: str) -> float | None:
        """The value of a one-element constant scalar() does not read directly: a Constant node's output, or an
        initializer in another layout (int32_data, external data), decoded."""
        value = self.const_value(name)
        if value is None or value.size != 1:
            return None
        return float(value.reshape(-1)[0])

    def nodes_of(self, *ops: str) -> list[Node]:
        """Nodes with one of these op types, in topological order (a shared list: do not modify it).

        Most passes care about a handful of op types; walking only those keeps a pass's cost
        proportional to its work rather than to the graph. Several passes ask for the same
        combination, so each combination is merged and sorted once.
        """
        index = self._op_index
        if len(ops) == 1:
            return index.get(ops[0], _NO_NODES)
        key = frozenset(ops)
        found = self._op_combinations.get(key)
        if found is None:
            present = [index[op] for op in key if op in index]
            if len(present) == 1:  # one of the ops is in the graph (MatMul of MatMul, Gemm, Attention)
                found = present[0]  # its list, shared like the one-op answer: nothing to merge or sort
            else:
                found = list(chain.from_iterable(present))
                found.sort(key=node_index)
            self._op_combinations[key] = found
        return found

    def op_types(self) -> KeysView[str]:
        """The op types of this graph's nodes, each once (the keys of the index nodes_of reads)."""
        return self._op_index.keys()

    def nodes_by_name(self) -> dict[str, Node]:
        """This graph's nodes by name (a shared dict: do not modify it), built once for the stages
        that map layer names back to nodes (precision, cost, advice)."""
        if self._by_name is None:
            nodes = self.nodes
            self._by_name = dict(zip(map(_node_name, nodes), nodes, strict=True))
        return self._by_name

    def release_indices(self) -> None:
        """Forget the lookup maps built for the analysis (nodes by name): the report does not need them,
        and on a 100k-node graph they hold megabytes while it is built."""
        self._by_name = None
        self._op_combinations.clear()

    def nodes_by_name_deep(self) -> dict[str, Node]:
        """Nodes of this graph and of its nested bodies by name: the one name-to-node lookup of every stage.

        Names can still repeat (a renamed ``x__3`` that the model also uses, a top-level node named like a
        body's prefixed node): the last node in walk order wins, graph by graph, as in nodes_by_name()."""
        if not self._control_nodes:
            return self.nodes_by_name()
        merged: dict[str, Node] = {}
        for graph in self.walk():
            merged.update(graph.nodes_by_name())
        return merged

    def has_bodies(self) -> bool:
        """Whether any node holds a nested graph (If, Loop, Scan)."""
        return bool(self._control_nodes)

    def walk(self) -> Iterator[Graph]:
        """This graph and every nested body, depth first."""
        yield self
        for n in self._control_nodes:
            for sub in n.subgraphs:
                yield from sub.walk()


def _adopt_outer_constants(graph: Graph) -> None:
    """A body (If/Loop/Scan) that reads an outer scope's weight or Constant reads a value fixed at build
    time too: each body's constants take the outer constants it reads (Keras LSTMs converted by tf2onnx
    read their kernels and biases inside a Loop). Bodies are built before their graph's constants are
    known, so this runs once from the main graph, outside in."""
    for node in graph._control_nodes:
        for sub in node.subgraphs:
            outer = [name for name in sub.outer_scope_reads() if name in graph.constant_names]
            if node.op == "Loop":
                outer += _loop_invariant_constants(node, sub, graph.constant_names)
            if outer:
                sub.constant_names = sub.constant_names.union(outer)
            if sub._control_nodes:
                _adopt_outer_constants(sub)


def _loop_invariant_constants(loop: Node, body: Graph, constants: frozenset[str]) -> list[str]:
    """A Loop's state variables that start as a constant and that the body hands back unchanged (itself,
    or through an Identity): constant in every iteration. tf2onnx passes a Keras LSTM's kernels and
    bias into its Loop this way."""
    names = [vi.name for vi in body.proto.input]
    found = []
    for i, initial in enumerate(loop.inputs[2:]):
        if initial not in constants or 2 + i >= len(names) or 1 + i >= len(body.outputs):
            continue
        state, out = names[2 + i], body.outputs[1 + i]
        producer = body.producers.get(out)
        if out == state or (producer is not None and producer.op == "Identity" and producer.inputs[:1] == (state,)):
            found.append(state)
    return found


def is_static(shape: Shape | None) -> bool:
    """A shape whose every dimension is a known number."""
    return shape is not None and all(isinstance(d, int) for d in shape)


def _nothing() -> None:
    return None


def _always() -> bool:
    return True


_NO_NODES: list[Node] = []
_CONTROL_OPS = frozenset({"If", "Loop", "Scan"})  # the ops whose nodes hold bodies
_NO_BODIES: list[Graph] = []  # shared and never appended to: nodes without bodies point here


node_index = attrgetter("index")  # a sort key for nodes in graph order, evaluated in C
_node_name = attrgetter("name")


_MISSING = object()


def _element_count(shape: Shape | None) -> int | None:
    if shape is None:
        return None
    size = 1
    for d in shape:
        if not isinstance(d, int):
            return None
        size *= d
    return size


def _constant_node_value(node: Node) -> np.ndarray | None:
    for a in node.proto.attribute:
        if a.name == "value" and a.type == AttributeProto.TENSOR:
            return _decode_constant(a.t)
        if a.name == "value_float":
            return np.array(a.f, dtype=np.float32)
        if a.name == "value_floats":
            return np.array(list(a.floats), dtype=np.float32)
        if a.name == "value_int":
            return np.array(a.i, dtype=np.int64)
        if a.name == "value_ints":
            return np.array(list(a.ints), dtype=np.int64)
    return None


def _unnamed_node_name(op: str, outputs: tuple[str, ...], index: int) -> str:
    # The ONNX parser of TensorRT names a layer after its node; an unnamed node gets a
    # name derived from its first output, which is stable across runs.
    first = outputs[0] if outputs else str(index)
    return f"{op}_{first}"


def iter_all_nodes(graph: Graph) -> Iterable[Node]:
    for g in graph.walk():
        yield from g.nodes
