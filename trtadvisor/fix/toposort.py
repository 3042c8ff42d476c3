"""Nodes sorted topologically, duplicate initializers dropped (TRT009: what the audit repairs on load).

The audit reads such a file sorted, and TensorRT's parser sorts it too, but the file itself still
fails onnx.checker and every tool that walks nodes in order; the rewrites after this one read
file order as well, so this runs first. The sort is onnx-graphsurgeon's.
"""

from __future__ import annotations

from trtadvisor.fix.base import Change, Outcome, Work


class TopoSortRewrite:
    name = "toposort"
    codes = ("TRT009",)
    needs_values = False

    def apply(self, work: Work) -> Outcome:
        outcome = Outcome()
        ir = work.ir()
        early = ir.reads_before_producer()
        twice = ir.duplicate_initializers()
        if not early and not twice:
            return outcome
        work.commit(work.surgeon())  # commit sorts; graphsurgeon keeps one tensor per name
        if early:
            outcome.changes.append(Change(self.name, self.codes[0], (), f"nodes sorted topologically ({len(early)} "
                                          f"tensor(s) were read before their producer, first '{early[0]}')"))
        if twice:
            outcome.changes.append(Change(self.name, self.codes[0], tuple(twice[:20]), f"{len(twice)} initializer(s) "
                                          "listed twice kept once"))
        return outcome
