"""How deep If/Loop/Scan bodies nest in an ONNX file, read from the protobuf wire format itself.

Protobuf refuses messages nested past its recursion limit (upb: 100 messages, which is about 32
levels of If/Loop bodies, since each level is GraphProto -> NodeProto -> AttributeProto). Its error
then reads like any other parse error, so the loader measures the nesting on the raw bytes to tell
the user what is really wrong. Only the fields on the path to a body are entered; everything else
(weights included) is skipped by its length, so the walk is linear and needs no recursion.
"""

from __future__ import annotations

# message kind -> {field number: kind of the nested message}; "graph" levels are what we count.
_PATHS: dict[str, dict[int, str]] = {
    "model": {7: "graph", 25: "function"},       # ModelProto.graph, ModelProto.functions
    "graph": {1: "node"},                        # GraphProto.node
    "function": {7: "node"},                     # FunctionProto.node
    "node": {5: "attribute"},                    # NodeProto.attribute
    "attribute": {6: "graph", 11: "graph"},      # AttributeProto.g, AttributeProto.graphs
}


def _varint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while pos < end and shift < 64:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    raise ValueError("bad varint")


def body_depth(data: bytes) -> int:
    """The deepest graph level in ``data`` (1: only the main graph; 2: a body inside it; ...).

    Reading stops at the first malformed field of a message: a truncated file gives the depth of
    what could be read."""
    deepest = 0
    stack: list[tuple[int, int, str, int]] = [(0, len(data), "model", 0)]
    while stack:
        pos, end, kind, depth = stack.pop()
        if kind in ("graph", "function"):
            depth += 1
            deepest = max(deepest, depth)
        fields = _PATHS[kind]
        try:
            while pos < end:
                tag, pos = _varint(data, pos, end)
                number, wire = tag >> 3, tag & 7
                if wire == 0:
                    _, pos = _varint(data, pos, end)
                elif wire == 1:
                    pos += 8
                elif wire == 5:
                    pos += 4
                elif wire == 2:
                    length, pos = _varint(data, pos, end)
                    if number in fields and pos + length <= end:
                        stack.append((pos, pos + length, fields[number], depth))
                    pos += length
                else:
                    break
        except ValueError:
            continue
    return deepest
