"""Softmax + Log and Softmax + TopK (ArgMax is a TopK with k = 1 in TensorRT).

Sources: rules/fusions.toml [fusion."softmax+log"] and [fusion."softmax+topk"].
"""

from __future__ import annotations

from trtadvisor.plan.context import Blocked, PlanContext


def fuse_softmax(ctx: PlanContext) -> None:
    ops = ctx.book.ops  # ArgMax/ArgMin/TopK: rules/ops.toml [class.topk]
    for node in ctx.graph.nodes_of("Softmax", "LogSoftmax"):
        if ctx.group(node) is None:
            continue
        group = ctx.owner[node]
        if group.kind == "myelin":
            continue
        tail = group.tail
        if node.op == "Softmax":
            log = ctx.sole_reader(tail.outputs[0])
            if log is not None and log.op == "Log" and ctx.group(log) is not None:
                ctx.merge(group, ctx.owner[log], "softmax+log")
                tail = log
            elif any(r.op == "Log" for r in ctx.live_readers(tail.outputs[0])):
                log_reader = next(r for r in ctx.live_readers(tail.outputs[0]) if r.op == "Log")
                why = ctx.why_not_sole(tail.outputs[0], log_reader)
                if why:
                    ctx.near_miss([tail, log_reader], Blocked("softmax+log", "sole_reader", why))
        readers = ctx.live_readers(tail.outputs[0])
        topk = [r for r in readers if ops.class_of(r.op) == "topk" and ctx.group(r) is not None]
        if not topk:
            continue
        why = ctx.why_not_sole(tail.outputs[0], topk[0])
        if why is not None:
            ctx.near_miss([tail, topk[0]], Blocked("softmax+topk", "sole_reader", why))
            continue
        ctx.merge(group, ctx.owner[topk[0]], "softmax+topk")
        group.kind = "softmax"
