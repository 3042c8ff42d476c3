"""``--format concise``: one line per finding, ``MODEL:NODE: CODE severity message`` (ruff's name for it).

For pre-commit hooks, editors and grep: no boxes, no colour, one line per finding. A finding without
a node reads ``MODEL: CODE severity message``. Text from the model is escaped so that every finding stays
on one line. An audit closes, as ruff's output does, with one summary line that also states the target
and typing mode the prediction assumed (``Found 6 findings; target: TensorRT 11.4, ...``); it starts with
``Found``, so a grep for ``: TRT`` still sees coded lines only. After a confirm, each coded confirm result
(diagnosis, hot layer with a known cause, missed or unpredicted layer) is one more line of the same form
(``MODEL:LAYER: TRT612 info ...``), and the summary line adds the agreement and the hottest layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from trtadvisor.ci.source_locations import Locator
from trtadvisor.knowledge.findings import Finding
from trtadvisor.report.common import target_text
from trtadvisor.report.engine_items import EngineItem, engine_items, engine_summary
from trtadvisor.report.formats import FormatOptions
from trtadvisor.report.text import escape_control

if TYPE_CHECKING:
    from trtadvisor.api import AuditResult
    from trtadvisor.ci.diff import ModelDiff


def finding_line(model: str, f: Finding) -> str:
    where = escape_control(model)
    if f.nodes:
        where += ":" + escape_control(f.nodes[0])
    return f"{where}: {f.rule} {f.severity} {escape_control(f.message)}"


def engine_line(model: str, item: EngineItem) -> str:
    where = escape_control(model)
    name = item.layer or (item.nodes[0] if item.nodes else None)
    if name:
        where += ":" + escape_control(name)
    return f"{where}: {item.code} {item.severity} {escape_control(item.message)}"


def concise_lines(model: str, findings: Sequence[Finding]) -> str:
    return "".join(finding_line(model, f) + "\n" for f in findings)


class ConciseFormatter:
    def __init__(self, options: FormatOptions) -> None:
        self.options = options

    def format(self, result: AuditResult) -> str:
        model = Locator(result.model.path, result.model.graph, self.options.root).model
        count = len(result.findings)
        fields = result.contract_fields()
        items = engine_items(fields)
        engine = engine_summary(fields)
        also = (f" and {len(items)} engine result{'' if len(items) == 1 else 's'} ({escape_control(engine)})"
                if engine is not None else "")
        summary = (f"Found {count} finding{'' if count == 1 else 's'}{also}; "
                   f"target: {target_text(result.target)}\n")
        return (concise_lines(model, result.findings) + "".join(engine_line(model, i) + "\n" for i in items)
                + summary)

    def format_diff(self, diff: ModelDiff) -> str:
        model = Locator(diff.new.model.path, diff.new.model.graph, self.options.root).model
        return concise_lines(model, diff.findings)
