"""Identity-like nodes removed: Identity, Dropout in inference, Cast to the type it already has (TRT119).

TensorRT erases these itself, but in the ONNX graph they sit between the nodes of a pattern (an
Identity between a LayerNorm's division and its weight, TorchScript's Identity copies of shared
weights) and hide it from pattern matchers, ours included. Readers are rewired to the node's input;
when the output is a graph output, the producer writes that name instead.
"""

from __future__ import annotations

import onnx

from trtadvisor.fix.base import Change, Outcome, Skip, Work


def _names_in_bodies(graph: onnx.GraphProto) -> set[str]:
    """Tensor names read inside If/Loop/Scan bodies (an outer value they read must keep its name)."""
    names: set[str] = set()
    stack = [a.g for n in graph.node for a in n.attribute if a.type == onnx.AttributeProto.GRAPH]
    stack += [g for n in graph.node for a in n.attribute if a.type == onnx.AttributeProto.GRAPHS for g in a.graphs]
    while stack:
        body = stack.pop()
        for node in body.node:
            names.update(node.input)
            stack += [a.g for a in node.attribute if a.type == onnx.AttributeProto.GRAPH]
    return names


class IdentityRewrite:
    name = "identity"
    codes = ("TRT119",)
    needs_values = False

    def apply(self, work: Work) -> Outcome:
        outcome = Outcome()
        ir = work.ir()
        candidates: dict[str, str] = {}
        for node in ir.nodes_of("Identity", "Dropout", "Cast"):
            why = self._identity_like(ir, node)
            if why:
                candidates[node.name] = why
        if not candidates:
            return outcome
        in_bodies = _names_in_bodies(work.proto.graph)
        graph = work.surgeon()
        outputs = {id(t) for t in graph.outputs}
        for index, node in enumerate(list(graph.nodes)):
            ir_node = ir.nodes[index]
            why = candidates.get(ir_node.name)
            if why is None:
                continue
            src, dst = node.inputs[0], node.outputs[0]
            if dst.name in in_bodies or src.name in in_bodies:
                outcome.skips.append(Skip(self.name, self.codes[0], (ir_node.name,),
                                          "an If/Loop/Scan body reads its input or output by name"))
                continue
            if id(dst) in outputs:
                if id(src) in outputs or not src.inputs:  # a graph input, a weight or another graph output
                    outcome.skips.append(Skip(self.name, self.codes[0], (ir_node.name,),
                                              "it copies a graph input, weight or output to a graph output"))
                    continue
                producer = src.inputs[0]
                producer.outputs = [dst if t is src else t for t in producer.outputs]
                for reader in list(src.outputs):
                    if reader is not node:
                        reader.inputs = [dst if t is src else t for t in reader.inputs]
            else:
                for reader in list(dst.outputs):
                    reader.inputs = [src if t is dst else t for t in reader.inputs]
            node.inputs.clear()
            node.outputs.clear()
            outcome.changes.append(Change(self.name, self.codes[0], (ir_node.name,), f"removed ({why})"))
        if outcome.changes:
            work.commit(graph)
        return outcome

    @staticmethod
    def _identity_like(ir, node) -> str | None:
        if not node.inputs or not node.inputs[0]:
            return None
        used_outputs = [o for o in node.outputs[1:] if o and (ir.consumers(o) or o in ir.outputs)]
        if node.op == "Identity":
            return "Identity"
        if node.op == "Dropout":
            training = node.input(2)
            if used_outputs:
                return None  # its mask is read
            if training and ir.scalar(training) not in (0.0,):
                return None  # training mode set at run time, or true
            if node.attr("is_test", 1) == 0:
                return None  # opset < 7 in training mode
            return "Dropout in inference"
        if node.op == "Cast":
            source = ir.dtype(node.inputs[0])
            if source and source == node.attr("to"):
                return "Cast to the type it already has"
        return None
