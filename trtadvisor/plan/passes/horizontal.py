"""Horizontal merge of convolutions: TensorRT 8.x built convolutions that read the same tensor with the same
window (kernel, strides, padding, dilations, groups) as one layer named ``A || B``, and ran the SiLU each had
after it as a PWN layer of its own (YOLOv8's Detect head: '/model.22/cv2.0/cv2.0.0/conv/Conv ||
/model.22/cv3.0/cv3.0.0/conv/Conv'). The documented fusions do not list it and no 10.x engine was seen doing it,
so the plan keeps the layers apart and lists the merged layer as an alternative of each, on 8.x only
(rules/fusions.toml [platform] conv_horizontal_merge_*).
"""

from __future__ import annotations

from trtadvisor.ir.graph import Node
from trtadvisor.plan.context import Group, PlanContext


def note_horizontal_merges(ctx: PlanContext) -> None:
    platform = ctx.book.platform
    target = ctx.target
    if not target.trt_at_least(str(platform["conv_horizontal_merge_seen_since"])) or \
            target.trt_at_least(str(platform["conv_horizontal_merge_seen_before"])):
        return
    siblings: dict[tuple[object, ...], list[tuple[Node, Group]]] = {}
    for conv in ctx.graph.nodes_of("Conv"):
        group = ctx.group(conv)
        key = _window(ctx, conv) if group is not None and group.kind == "convolution" and \
            _one_input(ctx, group) else None
        if key is not None:
            siblings.setdefault(key, []).append((conv, group))  # type: ignore[arg-type]
    for found in siblings.values():
        if len({id(g) for _, g in found}) < 2:
            continue
        merged = {"kind": "convolution", "nodes": [conv.name for conv, _ in found],
                  "when": str(platform["conv_horizontal_merge_when"]),
                  "evidence": [str(platform["conv_horizontal_merge_source"])]}
        for _, group in found:
            ctx.alternatives[id(group)] = (*ctx.alternatives.get(id(group), ()), merged)


def _one_input(ctx: PlanContext, group: Group) -> bool:
    """The layer reads one computed tensor: a convolution with a residual Add fused into it is no candidate (Keras
    ResNet-50 on 8.x kept 'conv2_block1_0_conv + add + out/Relu' and its sibling 'conv2_block1_1_conv + Relu',
    both 1x1 over the same input, two layers: ../shared/data/trt-artifacts/trex/examples/tensorflow/resnet/)."""
    made = {t for n in group.nodes for t in n.outputs}
    is_constant = ctx.graph.is_constant
    read = {t for n in group.nodes for t in n.inputs[:1] if t and t not in made and not is_constant(t)}
    read |= {t for n in group.nodes[1:] for t in n.inputs if t and t not in made and not is_constant(t)}
    return len(read) == 1


def _window(ctx: PlanContext, conv: Node) -> tuple[object, ...] | None:
    """What a merged convolution must share: the input and the window, with ONNX's defaults spelled out; None
    for a grouped or depthwise convolution (the merges seen were of plain ones) or an unknown kernel."""
    if len(conv.inputs) < 2 or (conv.attr("group", 1) or 1) != 1 or conv.attr("auto_pad", "NOTSET") not in (
            "NOTSET", b"NOTSET"):
        return None
    kernel = conv.attr("kernel_shape")
    if not kernel:
        weight = ctx.graph.shape(conv.inputs[1])
        if weight is None or len(weight) < 3 or None in weight[2:]:
            return None
        kernel = weight[2:]
    rank = len(kernel)
    return (conv.inputs[0], tuple(kernel), tuple(conv.attr("strides") or (1,) * rank),
            tuple(conv.attr("pads") or (0,) * 2 * rank), tuple(conv.attr("dilations") or (1,) * rank))
