"""One formatter interface for every output (pip-audit's ``format(result) -> str``), and the registry.

A formatter renders an :class:`~trtadvisor.api.AuditResult` (``audit``) or a
:class:`~trtadvisor.ci.diff.ModelDiff` (``diff``) to text and computes nothing: exit codes, baselines
and configuration are applied before it is called. Formatters are imported lazily by name.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from trtadvisor.api import AuditResult
    from trtadvisor.ci.diff import ModelDiff


@dataclass(frozen=True)
class FormatOptions:
    """What a formatter may need beyond the result itself."""

    color: bool = False
    max_layers: int = 80
    root: Path = field(default_factory=Path.cwd)  # paths in SARIF/GitHub/Markdown are relative to it
    fail_on: str = "error"
    command: str = ""  # the command line that produced the report, for the record
    width: int | None = None  # terminal columns for the rich report (None: 120)
    all_layers: bool = False  # rich: also list the engine layers that took no time


class Formatter(Protocol):
    def format(self, result: AuditResult) -> str: ...

    def format_diff(self, diff: ModelDiff) -> str: ...


# name -> "module:class"; the class takes FormatOptions.
FORMATS: dict[str, str] = {
    "rich": "trtadvisor.report.rich_report:RichFormatter",
    "json": "trtadvisor.report.json_report:JsonFormatter",
    "sarif": "trtadvisor.report.sarif:SarifFormatter",
    "markdown": "trtadvisor.report.markdown:MarkdownFormatter",
    "github": "trtadvisor.report.github:GithubFormatter",
    "html": "trtadvisor.report.html:HtmlFormatter",
    "concise": "trtadvisor.report.concise:ConciseFormatter",
}


def get_formatter(name: str, options: FormatOptions | None = None) -> Formatter:
    module_name, class_name = FORMATS[name].split(":")
    formatter_class = getattr(importlib.import_module(module_name), class_name)
    return formatter_class(options or FormatOptions())  # type: ignore[no-any-return]
