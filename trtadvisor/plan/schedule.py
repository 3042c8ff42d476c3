"""The critical path of the predicted engine and what auxiliary streams could overlap (``audit --schedule``).

The layer graph has an edge wherever a tensor written by one layer is read by another. With one stream
the layers run one after another: the latency is the sum of their times. Independent branches could
run side by side on auxiliary streams (``--maxAuxStreams``): the latency is then bounded below by the
longest chain of dependent layers, the critical path. The difference is the most the auxiliary streams
could hide. Built with networkx, imported only when asked (it is not on the audit's hot path).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from trtadvisor.ir.graph import Graph
from trtadvisor.plan.context import PredictedLayer


@dataclass(frozen=True)
class Schedule:
    total_ms: float  # one stream: every layer after the other
    critical_path_ms: float  # the longest chain of dependent layers
    critical_path: tuple[str, ...]  # its layers, in order
    parallel_layers: int  # layers off the critical path, which another stream could run meanwhile
    max_width: int  # the most layers that are mutually independent at one depth of the layer graph

    @property
    def overlappable_ms(self) -> float:
        return max(0.0, self.total_ms - self.critical_path_ms)

    def to_json(self) -> dict[str, object]:
        return {"total_ms": round(self.total_ms, 6), "critical_path_ms": round(self.critical_path_ms, 6),
                "overlappable_ms": round(self.overlappable_ms, 6), "critical_path": list(self.critical_path),
                "parallel_layers": self.parallel_layers, "max_width": self.max_width}


def schedule(graph: Graph, layers: Sequence[PredictedLayer], times: Sequence[float | None]) -> Schedule:
    """Longest path over the layer DAG, each layer weighted by its predicted time (unknown: 0)."""
    import networkx as nx

    layer_of = {name: i for i, layer in enumerate(layers) for name in layer.nodes}
    dag = nx.DiGraph()
    dag.add_nodes_from(range(len(layers)))
    for g in graph.walk():
        for node in g.nodes:
            here = layer_of.get(node.name)
            if here is None:
                continue
            for tensor in node.inputs:
                producer = g.producers.get(tensor) if tensor else None
                there = layer_of.get(producer.name) if producer is not None else None
                if there is not None and there != here:
                    dag.add_edge(there, here)
    weight = [t or 0.0 for t in times]
    best: dict[int, float] = {}
    came_from: dict[int, int | None] = {}
    depth: dict[int, int] = {}
    for v in nx.topological_sort(dag):
        preds = list(dag.predecessors(v))
        if preds:
            u = max(preds, key=best.__getitem__)
            best[v], came_from[v] = best[u] + weight[v], u
            depth[v] = 1 + max(depth[p] for p in preds)
        else:
            best[v], came_from[v], depth[v] = weight[v], None, 0
    if not best:
        return Schedule(0.0, 0.0, (), 0, 0)
    end: int | None = max(best, key=best.__getitem__)
    path: list[int] = []
    while end is not None:
        path.append(end)
        end = came_from[end]
    path.reverse()
    widths: dict[int, int] = {}
    for d in depth.values():
        widths[d] = widths.get(d, 0) + 1
    return Schedule(total_ms=sum(weight), critical_path_ms=best[path[-1]],
                    critical_path=tuple(layers[i].name for i in path), parallel_layers=len(layers) - len(path),
                    max_width=max(widths.values()))
