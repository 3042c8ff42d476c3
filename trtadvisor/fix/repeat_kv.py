"""GQA/MQA whose K/V heads are repeated before a native Attention: feed the un-repeated K/V (TRT303).

The ONNX Attention op (opset 23) takes K/V with N_kv heads and repeats them itself, interleaved
(query head j reads K/V head j // (N_q / N_kv)); TensorRT's fused kernel then reads N_kv heads.
Exporters (HF repeat_kv under dynamo) still write Unsqueeze -> Expand -> Reshape in front of it.
Sites are the audit's (analysis/attention_sites.py); a repetition is removed only when its structure
proves the interleaved order the op uses: Unsqueeze after the head axis, Expand of that new axis,
Reshape merging it into the head axis; or one K/V head broadcast to all (MQA).
"""

from __future__ import annotations

from trtadvisor.analysis.attention_sites import find_attention_sites, graph_values
from trtadvisor.fix.base import Change, Outcome, Skip, Work
from trtadvisor.ir.graph import Graph


def _unrepeated(ir: Graph, values, tensor: str, kv_heads: int) -> str | tuple[None, str]:
    """The tensor before the head repetition ending at ``tensor`` ([B, N_q, S, H]), or (None, reason)."""
    dims = values.dims
    seen = dims(tensor)
    node = ir.producer(tensor)
    if node is None:
        return None, "K/V is a graph input"
    if node.op == "Expand":   # MQA: one head broadcast
        src = dims(node.inputs[0])
        if src is not None and len(src) == 4 and src[1] == 1 and kv_heads == 1:
            return node.inputs[0]
        return None, "an Expand that does not broadcast a single K/V head"
    if node.op != "Reshape":
        return None, f"the repetition ends in {node.op}, not the Unsqueeze/Expand/Reshape of repeat_kv"
    expand = ir.producer(node.inputs[0])
    unsqueeze = ir.producer(expand.inputs[0]) if expand is not None and expand.op == "Expand" else None
    if unsqueeze is None or unsqueeze.op != "Unsqueeze":
        return None, "not the Unsqueeze -> Expand -> Reshape of repeat_kv"
    axes = unsqueeze.attr("axes")
    if axes is None and len(unsqueeze.inputs) > 1:
        value = ir.const_value(unsqueeze.inputs[1])
        axes = None if value is None else [int(a) for a in value.reshape(-1)]
    source = unsqueeze.inputs[0]
    src, expanded = dims(source), dims(expand.outputs[0])
    if axes not in ([2], [-3]) or src is None or expanded is None or seen is None:
        return None, "the Unsqueeze is not after the head axis, or the shapes are unknown"
    if len(src) != 4 or len(expanded) != 5 or len(seen) != 4:
        return None, "K/V is not 4-D"
    group = expanded[2]
    if src[1] != kv_heads or not isinstance(group, int) or seen[1] != kv_heads * group or \
            (src[0], src[2], src[3]) != (seen[0], seen[2], seen[3]):
        return None, f"shapes {list(src)} -> {list(expanded)} -> {list(seen)} are not an interleaved repeat"
    return source


class RepeatKVRewrite:
    name = "repeat_kv"
    codes = ("TRT303",)
    needs_values = False

    def apply(self, work: Work) -> Outcome:
        outcome = Outcome()
        ir = work.ir()
        values = graph_values(ir)
        plans: list[tuple[int, dict[int, str], str, tuple[str, ...]]] = []
        by_name = {n.name: n for n in ir.nodes_of("Attention")}
        for site in find_attention_sites(ir, values):
            if not (site.native and site.repeated_kv):
                continue
            node = by_name.get(site.anchor)
            code = self.codes[0]
            if node is None or site.num_kv_heads is None or site.num_heads is None:
                outcome.skips.append(Skip(self.name, code, (site.anchor,), "the K/V head count is unknown"))
                continue
            if len(node.inputs) > 4 and any(node.inputs[4:6]):
                outcome.skips.append(Skip(self.name, code, (site.anchor,), "a past key/value cache is concatenated "
                                          "inside the op with the repeated head count"))
                continue
            if node.has_attr("kv_num_heads") or node.has_attr("q_num_heads"):
                outcome.skips.append(Skip(self.name, code, (site.anchor,), "3-D inputs with head-count attributes"))
                continue
            rewired: dict[int, str] = {}
            reason = ""
            for slot in (1, 2):
                found = _unrepeated(ir, values, node.inputs[slot], site.num_kv_heads)
                if isinstance(found, tuple):
                    reason = f"{'K' if slot == 1 else 'V'}: {found[1]}"
                    break
                rewired[slot] = found
            if reason:
                outcome.skips.append(Skip(self.name, code, (site.anchor,), reason))
                continue
            plans.append((node.index, rewired, f"N_kv {site.kv_heads_seen} -> {site.num_kv_heads} "
                          f"(N_q {site.num_heads}); the op repeats K/V itself", site.repeat_nodes))
        if not plans:
            return outcome
        graph = work.surgeon()
        tensors = graph.tensors()
        for index, rewired, detail, repeat_nodes in plans:
            node = graph.nodes[index]
            for slot, name in rewired.items():
                node.inputs[slot] = tensors[name]
            outcome.changes.append(Change(self.name, self.codes[0], (node.name, *repeat_nodes), detail))
        work.commit(graph)
        return outcome
