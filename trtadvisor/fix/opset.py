"""When raising the model's opset changes nothing but the ops it makes available.

Raising the default-domain opset from N to M keeps the model's meaning exactly when no op the
model uses got a new version in (N, M]: every node then resolves to the same schema. That is how a
LayerNorm decomposed at opset 16 (TorchScript writes LayerNormalization only from 17) can become
the LayerNormalization op without touching anything else.
"""

from __future__ import annotations

import onnx
import onnx.defs

from trtadvisor.ir.graph import schema_opset


def opset_raise_blocker(proto: onnx.ModelProto, current: int, wanted: int) -> str | None:
    """None when ``current`` can become ``wanted`` without changing any node's schema; else why not."""
    if wanted <= current:
        return None
    if wanted > onnx.defs.onnx_opset_version():
        return f"this onnx package knows opsets up to {onnx.defs.onnx_opset_version()}, not {wanted}"
    changed: set[str] = set()
    for node in _all_nodes(proto.graph):
        if node.domain not in ("", "ai.onnx"):
            continue
        try:
            now = onnx.defs.get_schema(node.op_type, schema_opset(current)).since_version
            then = onnx.defs.get_schema(node.op_type, wanted).since_version
        except onnx.defs.SchemaError:
            return f"op {node.op_type} has no schema at opset {current} or {wanted}"
        if now != then:
            changed.add(f"{node.op_type} (v{now} -> v{then})")
    if changed:
        return (f"raising opset {current} -> {wanted} would change "
                f"{', '.join(sorted(changed)[:4])}{' ...' if len(changed) > 4 else ''}")
    return None


def _all_nodes(graph: onnx.GraphProto):
    for node in graph.node:
        yield node
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                yield from _all_nodes(attr.g)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for g in attr.graphs:
                    yield from _all_nodes(g)
