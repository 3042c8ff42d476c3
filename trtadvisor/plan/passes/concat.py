"""Concat removal: TensorRT's builder drops a Concat layer and has the layers that make its inputs write
straight into slices of its output; an input whose layer cannot write a slice is copied there by a
Reformat layer named ``<concat>_<input>_clone_<i> copy``.

Claimed only where a real engine showed it (rules/fusions.toml [platform] concat_*): every input made by
a layer seen writing a slice in place (convolution, pointwise, pooling) or seen copied (Resize, Split). An
input whose tensor another layer also reads is copied where that reader was seen not to read a slice
(Resize, pooling: the YOLOv8 SPPF's first two pools' outputs are copied, the last one's is not). An input that
is itself a Concat removed here, read by nothing else, is written in place too: its own inputs' layers write
into the outer output (concat_nested_source), so cat(cat(a, b), c) is predicted as cat(a, b, c), the form the
TorchScript exporter writes it in. A tensor is written in place into one output only: an input that a later
Concat also reads (DenseNet's features, read by the Concat of every later layer of the block) goes into that
later one, which TensorRT removes first, and is copied into this one (concat_shared_input_source). A Concat fed
by anything else keeps its own layer in the prediction: whether TensorRT removes it is not known.
"""

from __future__ import annotations

from collections.abc import Iterable

from trtadvisor.ir.graph import Node, node_index
from trtadvisor.plan.context import Blocked, PlanContext

FUSION = "concat-removal"  # the rule id; the cost model prices its copy layers by it


def remove_concatenations(ctx: PlanContext) -> None:
    platform = ctx.book.platform
    writers = frozenset(platform["concat_strided_writer_kinds"])
    copied = frozenset(platform["concat_copied_kinds"])
    unstrided = frozenset(platform["concat_unstrided_reader_kinds"])
    removed: set[str] = set()  # outputs of the Concats removed so far, in graph order (inner ones first)
    for node in ctx.graph.nodes_of("Concat"):
        group = ctx.group(node)
        if group is None or len(group.nodes) != 1 or ctx.graph.is_graph_output(node.outputs[0]):
            continue  # folded (shape arithmetic), inside another layer (Myelin), or a network output
        producers = [ctx.live_producer(tensor) if tensor else None for tensor in node.inputs]
        groups = [ctx.group(p) if p is not None else None for p in producers]
        nested = [tensor in removed and ctx.sole_reader(tensor) is node for tensor in node.inputs]
        if not groups or any(not inner and (g is None or g.kind not in writers | copied)
                             for g, inner in zip(groups, nested, strict=True)):
            continue  # an input from a network input, a constant or a layer of unknown behaviour
        others = [[r for r in ctx.live_readers(tensor) if r is not node] for tensor in node.inputs]
        later = [later_concat(node, readers) for readers in others]
        copies = [(i, tensor) for i, (tensor, g) in enumerate(zip(node.inputs, groups, strict=True))
                  if g is not None and (later[i] is not None or copied_input(
                      g.kind, (ctx.group(r).kind if ctx.group(r) else None for r in others[i]),  # type: ignore[union-attr]
                      copied, unstrided))]
        if not copies:
            ctx.eliminate(node, "concat removal: the convolutions that make its inputs write into its output")
            removed.update(node.outputs[:1])
            continue
        # The Concat's own layer becomes the copy of its first copied input (one Reformat layer per
        # copied input in the engine; a second one is named in the finding).
        index, tensor = copies[0]
        group.kind = "reformat"
        group.name = f"{node.name}_{tensor}_clone_{index} copy"
        group.add_fusion(FUSION)
        made_by = ", ".join(_why(t, producers[i].name, groups[i].kind, others[i], later[i], ctx, copied,  # type: ignore[union-attr]
                                 unstrided) for i, t in copies)
        detail = f"{made_by}: TensorRT copies {'it' if len(copies) == 1 else 'them'} into '{node.outputs[0]}' " \
                 f"(a Reformat layer)"
        if all(later[i] is not None for i, _ in copies):  # copied only because a later Concat takes them
            ctx.near_miss([node], Blocked("concat-removal", "one_destination", detail))
        else:
            ctx.near_miss([node], Blocked("concat-removal", "strided_writers", detail))


def copied_input(kind: str | None, other_reader_kinds: Iterable[str | None], copied: frozenset[str],
                 unstrided: frozenset[str]) -> bool:
    """Whether TensorRT copies a Concat input into the output rather than having its layer (of ``kind``) write
    it in place: that kind was seen copied, or another layer reading the same tensor does not read a slice."""
    return kind in copied or any(k in unstrided for k in other_reader_kinds)


def later_concat(concat: Node, readers: Iterable[Node]) -> Node | None:
    """The last Concat after ``concat`` in graph order that also reads one of its inputs (among ``readers``,
    that input's other readers). TensorRT removes Concats last first and writes a tensor into one output only,
    so the last one takes it and ``concat`` copies it. A Concat of one input is the tensor itself: none."""
    if _arity(concat) < 2:
        return None
    later = [r for r in readers if r.op == "Concat" and r.index > concat.index and _arity(r) > 1]
    return max(later, key=node_index) if later else None


def _arity(node: Node) -> int:
    return sum(1 for name in node.inputs if name)


def _why(tensor: str, producer: str, kind: str, others: list[Node], later: Node | None, ctx: PlanContext,
         copied: frozenset[str], unstrided: frozenset[str]) -> str:
    if kind in copied:
        return f"'{tensor}' ({producer}, {kind}) cannot be written into a slice"
    if later is not None:
        return f"'{tensor}' ({producer}, {kind}) is written into {later.name}, the last Concat that reads it"
    reader = next(r for r in others if ctx.group(r) is not None and ctx.group(r).kind in unstrided)  # type: ignore[union-attr]
    return f"'{tensor}' ({producer}, {kind}) is also read by {reader.name} ({ctx.group(reader).kind}), " \
           f"which does not read a slice"  # type: ignore[union-attr]
