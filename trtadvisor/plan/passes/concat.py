"""Concat removal: TensorRT's builder drops a Concat layer and has the layers that make its inputs write
straight into slices of its output; an input whose layer cannot write a slice is copied there by a
Reformat layer named ``<concat>_<input>_clone_<i> copy``.

Claimed only where a real engine showed it (rules/fusions.toml [platform] concat_*): every input made by
a convolution layer (written in place) or a Resize (copied). A Concat fed by anything else keeps its own
layer in the prediction: whether TensorRT removes it is not known from the evidence.
"""

from __future__ import annotations

from trtadvisor.plan.context import Blocked, PlanContext

FUSION = "concat-removal"  # the rule id; the cost model prices its copy layers by it


def remove_concatenations(ctx: PlanContext) -> None:
    platform = ctx.book.platform
    writers = frozenset(platform["concat_strided_writer_kinds"])
    copied = frozenset(platform["concat_copied_kinds"])
    for node in ctx.graph.nodes_of("Concat"):
        group = ctx.group(node)
        if group is None or len(group.nodes) != 1 or ctx.graph.is_graph_output(node.outputs[0]):
            continue  # folded (shape arithmetic), inside another layer (Myelin), or a network output
        producers = [ctx.live_producer(tensor) if tensor else None for tensor in node.inputs]
        groups = [ctx.group(p) if p is not None else None for p in producers]
        if not groups or any(g is None or g.kind not in writers | copied for g in groups):
            continue  # an input from a network input, a constant or a layer of unknown behaviour
        copies = [(i, tensor) for i, (tensor, g) in enumerate(zip(node.inputs, groups, strict=True))
                  if g is not None and g.kind in copied]
        if not copies:
            ctx.eliminate(node, "concat removal: the convolutions that make its inputs write into its output")
            continue
        # The Concat's own layer becomes the copy of its first copied input (one Reformat layer per
        # copied input in the engine; a second one is named in the finding).
        index, tensor = copies[0]
        group.kind = "reformat"
        group.name = f"{node.name}_{tensor}_clone_{index} copy"
        group.add_fusion(FUSION)
        made_by = ", ".join(f"'{t}' ({producers[i].name}, {groups[i].kind})"  # type: ignore[union-attr]
                            for i, t in copies)
        ctx.near_miss([node], Blocked("concat-removal", "strided_writers",
                                      f"{made_by} cannot be written into a slice of '{node.outputs[0]}': "
                                      f"TensorRT copies {'it' if len(copies) == 1 else 'them'} (a Reformat layer)"))
